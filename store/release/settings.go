package release

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"capship/workflow"
)

// BucketSettings are where an app's bundles go in an S3-compatible
// bucket, remembered per app on this machine so the wizard offers them
// again. They hold no secret: credentials come from the SDK's standard
// chain.
type BucketSettings struct {
	Bucket     string `json:"bucket"` // s3://BUCKET/PREFIX
	Endpoint   string `json:"endpoint,omitempty"`
	Region     string `json:"region,omitempty"`
	PathStyle  bool   `json:"path_style,omitempty"`
	PublicBase string `json:"public_base,omitempty"`
}

// Target is the upload target of the settings.
func (s BucketSettings) Target() workflow.UploadTarget {
	return workflow.UploadTarget{S3: s.Bucket, Endpoint: s.Endpoint, Region: s.Region, PathStyle: s.PathStyle, PublicBase: s.PublicBase}
}

// appSettings is the shape of an app's file; other settings may join S3.
type appSettings struct {
	S3 *BucketSettings `json:"s3,omitempty"`
}

// appSettingsPath is the app's file below dir ("" for the user's config
// folder + capship): DIR/apps/APP.json.
func appSettingsPath(dir, appID string) (string, error) {
	if err := workflow.ValidAppID(appID); err != nil || filepath.Base(appID) != appID {
		return "", fmt.Errorf("app settings: %q is not an app id", appID)
	}
	if dir == "" {
		base, err := os.UserConfigDir()
		if err != nil {
			return "", fmt.Errorf("app settings: %w", err)
		}
		dir = filepath.Join(base, "capship")
	}
	return filepath.Join(dir, "apps", appID+".json"), nil
}

// LoadBucketSettings reads the app's remembered bucket settings from dir
// ("" for the user's config folder); zero when there are none yet.
func LoadBucketSettings(dir, appID string) (BucketSettings, error) {
	path, err := appSettingsPath(dir, appID)
	if err != nil {
		return BucketSettings{}, err
	}
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return BucketSettings{}, nil
	}
	if err != nil {
		return BucketSettings{}, fmt.Errorf("read app settings: %w", err)
	}
	var s appSettings
	if err := json.Unmarshal(data, &s); err != nil {
		return BucketSettings{}, fmt.Errorf("read app settings %s: %w (delete the file to start afresh)", path, err)
	}
	if s.S3 == nil {
		return BucketSettings{}, nil
	}
	return *s.S3, nil
}

// SaveBucketSettings writes the app's bucket settings into dir ("" for
// the user's config folder) atomically: temp file, fsync, rename.
func SaveBucketSettings(dir, appID string, set BucketSettings) error {
	path, err := appSettingsPath(dir, appID)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return fmt.Errorf("save app settings: %w", err)
	}
	data, err := json.MarshalIndent(appSettings{S3: &set}, "", "  ")
	if err != nil {
		return err
	}
	if err := workflow.WriteFileAtomic(path, append(data, '\n'), 0o600); err != nil {
		return fmt.Errorf("save app settings: %w", err)
	}
	return nil
}
