module github.com/wsgate/wsgate/test/nag

go 1.26.0

replace github.com/wsgate/wsgate => ../..

// cdk-nag-go requires constructs 10.5, which aws-cdk-go v2.220.0 cannot
// compile with; CDK Go up to 2.238 must stay on constructs 10.4.
replace github.com/aws/constructs-go/constructs/v10 => github.com/aws/constructs-go/constructs/v10 v10.4.2

require (
	github.com/Masterminds/semver/v3 v3.4.0 // indirect
	github.com/aws/constructs-go/constructs/v10 v10.5.1 // indirect
	github.com/cdklabs/awscdk-asset-awscli-go/awscliv1/v2 v2.2.275 // indirect
	github.com/cdklabs/awscdk-asset-node-proxy-agent-go/nodeproxyagentv6/v2 v2.1.1 // indirect
	github.com/cdklabs/cloud-assembly-schema-go/awscdkcloudassemblyschema/v48 v48.6.0 // indirect
	github.com/fatih/color v1.19.0 // indirect
	github.com/mattn/go-colorable v0.1.14 // indirect
	github.com/mattn/go-isatty v0.0.20 // indirect
	github.com/yuin/goldmark v1.7.16 // indirect
	golang.org/x/lint v0.0.0-20241112194109-818c5a804067 // indirect
	golang.org/x/mod v0.34.0 // indirect
	golang.org/x/sync v0.22.0 // indirect
	golang.org/x/sys v0.49.0 // indirect
	golang.org/x/telemetry v0.0.0-20260311193753-579e4da9a98c // indirect
	golang.org/x/tools v0.43.0 // indirect
	golang.org/x/tools/cmd/godoc v0.1.0-deprecated // indirect
	golang.org/x/tools/godoc v0.1.0-deprecated // indirect
)

require (
	github.com/aws/aws-cdk-go/awscdk/v2 v2.220.0
	github.com/aws/jsii-runtime-go v1.128.0
	github.com/cdklabs/cdk-nag-go/cdknag/v2 v2.38.2
	github.com/wsgate/wsgate v0.0.0
)
