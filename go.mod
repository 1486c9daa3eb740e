module github.com/portwarden/portwarden

go 1.26.8

require (
	github.com/cakturk/go-netstat v0.0.0-20200220111822-e5b49efee7a5
	golang.org/x/sys v0.49.0
)

require github.com/BurntSushi/toml v1.6.0
