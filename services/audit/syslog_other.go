//go:build !unix

package audit

func toSyslog(string) {}
