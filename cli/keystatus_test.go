package cli

import (
	"strings"
	"testing"

	"capship/workflow"
)

func TestConfigStatus(t *testing.T) {
	key := testKey(t, 0)
	other := testKey(t, 1)
	pem := string(workflow.EncodePublicKey(&key.PublicKey))
	lines := strings.Split(pem, "\n")
	indented := lines[0] + "\n\t" + strings.Join(lines[1:len(lines)-2], "\n\t") + "\n" + lines[len(lines)-2] + "\n"
	tests := []struct {
		name    string
		project *workflow.Project
		status  string
		warnHas string
	}{
		{"no config", nil, "no-config", ""},
		{"other app", &workflow.Project{AppID: "com.other", PublicKey: pem}, "other-app", ""},
		{"missing", &workflow.Project{AppID: testApp}, "missing", "config set-key"},
		{"match", &workflow.Project{AppID: testApp, PublicKey: pem}, "match", ""},
		{"crlf", &workflow.Project{AppID: testApp, PublicKey: strings.ReplaceAll(pem, "\n", "\r\n")}, "unreadable", "CR line breaks"},
		{"tab-indented base64", &workflow.Project{AppID: testApp, PublicKey: indented}, "unreadable", "config set-key"},
		{"mismatch", &workflow.Project{AppID: testApp, PublicKey: string(workflow.EncodePublicKey(&other.PublicKey))}, "mismatch", "KEY MISMATCH"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, status, warning := configStatus(tt.project, testApp, &key.PublicKey)
			if status != tt.status || !strings.Contains(warning, tt.warnHas) || (tt.warnHas == "") != (warning == "") {
				t.Fatalf("status %q warning %q; want %q containing %q", status, warning, tt.status, tt.warnHas)
			}
		})
	}
}
