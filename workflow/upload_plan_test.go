package workflow

import (
	"errors"
	"strings"
	"testing"
)

// The app id heads every key an upload writes: one that is not an app id
// never reaches a storage.
func TestUploadPlanRefusesABadAppID(t *testing.T) {
	sum := strings.Repeat("a", 64)
	for _, id := range []string{"", "../../com.example.shop", "com.example/../shop", "com..shop", "com.example.shop/x"} {
		m := &Manifest{AppID: id, ZipSHA256: sum, SHA256: sum, File: "/bundle.zip", Size: 16}
		if plan, err := UploadPlan(m); !errors.Is(err, ErrManifest) || !strings.Contains(err.Error(), "app_id") {
			t.Errorf("app id %q: plan %v, error %v; want ErrManifest naming app_id", id, plan, err)
		}
	}
	m := &Manifest{AppID: "com.example.shop", ZipSHA256: sum, SHA256: sum, File: "/bundle.zip", Size: 16}
	if plan, err := UploadPlan(m); err != nil || len(plan) != 1 || plan[0].Key != "com.example.shop/"+sum+".zip" {
		t.Errorf("a good app id: plan %+v, error %v", plan, err)
	}
}
