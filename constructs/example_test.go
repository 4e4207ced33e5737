package constructs_test

import (
	"encoding/json"
	"fmt"
	"os"
	"sort"
	"strings"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsecs"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/jsii-runtime-go"

	wsgate "github.com/wsgate/wsgate/constructs"
)

// exampleApp returns an app writing to a fresh temporary directory.
func exampleApp() awscdk.App {
	dir, err := os.MkdirTemp("", "wsgate-example-")
	if err != nil {
		panic(err)
	}
	return awscdk.NewApp(&awscdk.AppProps{Outdir: jsii.String(dir)})
}

// synthTemplate synthesizes app and returns one stack's template.
func synthTemplate(app awscdk.App, stack string) map[string]any {
	tpl := app.Synth(nil).GetStackByName(jsii.String(stack)).Template()
	b, _ := json.Marshal(tpl)
	var out map[string]any
	_ = json.Unmarshal(b, &out)
	return out
}

// printRoutes prints each route with the integration API Gateway calls.
func printRoutes(tpl map[string]any) {
	res := tpl["Resources"].(map[string]any)
	var lines []string
	for _, r := range res {
		r := r.(map[string]any)
		if r["Type"] != "AWS::ApiGatewayV2::Route" {
			continue
		}
		p := r["Properties"].(map[string]any)
		target, _ := json.Marshal(p["Target"]) // {"Fn::Join":["",["integrations/",{"Ref":id}]]}
		for id, integ := range res {
			if !strings.Contains(string(target), `{"Ref":"`+id+`"}`) {
				continue
			}
			ip := integ.(map[string]any)["Properties"].(map[string]any)
			uri, _ := json.Marshal(ip["IntegrationUri"])
			lines = append(lines, fmt.Sprintf("%-11s %s %s %s", p["RouteKey"], ip["IntegrationMethod"], ip["ConnectionType"], describeURI(string(uri))))
		}
	}
	sort.Strings(lines)
	fmt.Println(strings.Join(lines, "\n"))
}

// describeURI shortens an integration URI: a plain string as is, an NLB
// address as <nlb> plus the port and path.
func describeURI(uri string) string {
	var s string
	if json.Unmarshal([]byte(uri), &s) == nil {
		return s
	}
	i := strings.LastIndex(uri, `":`)
	return "http://<nlb>:" + strings.TrimSuffix(uri[i+2:], `"]]}`)
}

// A WebSocket API in front of an existing dotNetify server on the internet.
func ExampleNewWebSocketApi() {
	app := exampleApp()
	stack := awscdk.NewStack(app, jsii.String("Chat"), nil)

	api := wsgate.NewWebSocketApi(stack, jsii.String("Realtime"), &wsgate.WebSocketApiProps{
		BackendUrl: jsii.String("https://dotnetify.example.com"),
	})
	awscdk.NewCfnOutput(stack, jsii.String("WebSocketUrl"), &awscdk.CfnOutputProps{Value: api.WebSocketUrl()})

	printRoutes(synthTemplate(app, "Chat"))
	// Output:
	// $connect    POST INTERNET https://dotnetify.example.com/api/dotnetify/vm
	// $default    POST INTERNET https://dotnetify.example.com/api/dotnetify/vm
	// $disconnect POST INTERNET https://dotnetify.example.com/api/dotnetify/vm/disconnect
}

// Allow a role (here one for a Lambda function) to push to the stage's
// connections.
func ExampleWebSocketApi_GrantManageConnections() {
	app := exampleApp()
	stack := awscdk.NewStack(app, jsii.String("Chat"), nil)
	api := wsgate.NewWebSocketApi(stack, jsii.String("Realtime"), &wsgate.WebSocketApiProps{
		BackendUrl: jsii.String("https://dotnetify.example.com"),
		ApiOptions: wsgate.ApiOptions{StageName: jsii.String("live")},
	})
	role := awsiam.NewRole(stack, jsii.String("Pusher"), &awsiam.RoleProps{
		AssumedBy: awsiam.NewServicePrincipal(jsii.String("lambda.amazonaws.com"), nil),
	})

	api.GrantManageConnections(role)

	for _, r := range synthTemplate(app, "Chat")["Resources"].(map[string]any) {
		if r := r.(map[string]any); r["Type"] == "AWS::IAM::Policy" {
			b, _ := json.Marshal(r["Properties"].(map[string]any)["PolicyDocument"].(map[string]any)["Statement"])
			fmt.Println(strings.Contains(string(b), `"execute-api:ManageConnections"`), strings.Contains(string(b), `"/live/*/@connections/*"`))
		}
	}
	// Output:
	// true true
}

// The API plus the wsgate server on Fargate, here with a prebuilt image
// (or set ServerPackage, such as "./cmd/counter", to build your own main
// package from your module).
func ExampleNewRealtimeService() {
	app := exampleApp()
	stack := awscdk.NewStack(app, jsii.String("Realtime"), nil)

	rt := wsgate.NewRealtimeService(stack, jsii.String("Realtime"), &wsgate.RealtimeServiceProps{
		Image:       awsecs.ContainerImage_FromRegistry(jsii.String("public.ecr.aws/example/wsgate-server:1.0.0"), nil),
		Environment: &map[string]*string{"WSGATE_LOG_LEVEL": jsii.String("debug")},
	})
	awscdk.NewCfnOutput(stack, jsii.String("WebSocketUrl"), &awscdk.CfnOutputProps{Value: rt.WebSocketUrl()})

	printRoutes(synthTemplate(app, "Realtime"))
	// Output:
	// $connect    POST VPC_LINK http://<nlb>:80/api/dotnetify/vm
	// $default    POST VPC_LINK http://<nlb>:80/api/dotnetify/vm
	// $disconnect POST VPC_LINK http://<nlb>:80/api/dotnetify/vm/disconnect
}

// The stack `cdk deploy` creates for this repository (see app.go).
func ExampleNewRealtimeStack() {
	app := exampleApp()

	s := wsgate.NewRealtimeStack(app, jsii.String(wsgate.StackName), &wsgate.RealtimeStackProps{
		Service: &wsgate.RealtimeServiceProps{
			ApiOptions:    wsgate.ApiOptions{ConfigureAccountCloudWatchRole: jsii.Bool(true)},
			ServerPackage: jsii.String(wsgate.DemoServerPackage), // relative to the working directory's module
		},
	})

	fmt.Println(*s.StackName())
	var outputs []string
	for name := range synthTemplate(app, wsgate.StackName)["Outputs"].(map[string]any) {
		outputs = append(outputs, name)
	}
	sort.Strings(outputs)
	fmt.Println(outputs)
	// Output:
	// WsgateStack
	// [CallbackUrl WebSocketUrl]
}
