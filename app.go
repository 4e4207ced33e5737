// Command wsgate's CDK app: `cdk deploy` creates the WsgateStack, the
// WebSocket API with the wsgate server on ECS Fargate running the demo
// server (./server/cmd/wsgate-server), named the way any app names its own
// main package. The stack is environment-agnostic, so `cdk synth` needs no
// AWS account.
//
// Context values (cdk.json or `cdk deploy -c key=value`):
//
//	wsgate:stageName                       stage name (default "prod")
//	wsgate:configureAccountCloudWatchRole  set the account's API Gateway logging role (default true)
package main

import (
	"fmt"
	"os"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/jsii-runtime-go"

	wsgate "github.com/wsgate/wsgate/constructs"
)

func main() {
	defer jsii.Close()
	app := awscdk.NewApp(nil)
	props, err := serviceProps(app)
	if err != nil {
		fmt.Fprintln(os.Stderr, "wsgate:", err)
		os.Exit(1)
	}
	wsgate.NewRealtimeStack(app, jsii.String(wsgate.StackName), &wsgate.RealtimeStackProps{
		Service: props,
	})
	app.Synth(nil)
}

// serviceProps reads the app's context values.
func serviceProps(app awscdk.App) (*wsgate.RealtimeServiceProps, error) {
	props := &wsgate.RealtimeServiceProps{ServerPackage: jsii.String(wsgate.DemoServerPackage)}
	if v, ok := app.Node().TryGetContext(jsii.String("wsgate:stageName")).(string); ok {
		props.StageName = jsii.String(v)
	}
	role := true
	switch v := app.Node().TryGetContext(jsii.String("wsgate:configureAccountCloudWatchRole")).(type) {
	case nil:
	case bool:
		role = v
	case string:
		if v != "true" && v != "false" {
			return nil, fmt.Errorf("context wsgate:configureAccountCloudWatchRole is %q; allowed: true or false", v)
		}
		role = v == "true"
	default:
		return nil, fmt.Errorf("context wsgate:configureAccountCloudWatchRole is %v; allowed: true or false", v)
	}
	props.ConfigureAccountCloudWatchRole = jsii.Bool(role)
	return props, nil
}
