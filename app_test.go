package main

import (
	"testing"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/jsii-runtime-go"
)

func TestServicePropsFromContext(t *testing.T) {
	cases := []struct {
		name      string
		context   map[string]any
		stage     string
		role      bool
		wantError string
	}{
		{name: "defaults", context: map[string]any{}, stage: "", role: true},
		{name: "stage and no role", context: map[string]any{"wsgate:stageName": "live", "wsgate:configureAccountCloudWatchRole": false}, stage: "live", role: false},
		{name: "string from -c", context: map[string]any{"wsgate:configureAccountCloudWatchRole": "false"}, role: false},
		{name: "bad value", context: map[string]any{"wsgate:configureAccountCloudWatchRole": "no"},
			wantError: `context wsgate:configureAccountCloudWatchRole is "no"; allowed: true or false`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			app := awscdk.NewApp(&awscdk.AppProps{Outdir: jsii.String(t.TempDir()), Context: &c.context})
			props, err := serviceProps(app)
			if c.wantError != "" {
				if err == nil || err.Error() != c.wantError {
					t.Fatalf("error = %v, want %q", err, c.wantError)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := props.StageName; (got == nil) != (c.stage == "") || (got != nil && *got != c.stage) {
				t.Errorf("stage = %v, want %q", got, c.stage)
			}
			if *props.ConfigureAccountCloudWatchRole != c.role {
				t.Errorf("account role = %v, want %v", *props.ConfigureAccountCloudWatchRole, c.role)
			}
			// The demo server is named like any app's own package, not
			// left to the library's default.
			if props.ServerPackage == nil || *props.ServerPackage != "./server/cmd/wsgate-server" || props.SourceDir != nil {
				t.Errorf("server package = %v, source dir = %v; want ./server/cmd/wsgate-server in the working directory's module", props.ServerPackage, props.SourceDir)
			}
		})
	}
}
