// Package report renders judged snapshots for scripts and for terminals
// without a dashboard: an aligned table in the manner of `ss -tulpn`, JSON,
// the check's verdict, Prometheus metrics and a Markdown record.
package report
