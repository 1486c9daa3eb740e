// Command portwarden shows every listening port and live connection with
// the process that owns it, and says which ones should not be there. The
// command line lives in package cli; this file only starts it.
package main

import "github.com/portwarden/portwarden/cli"

func main() { cli.Main() }
