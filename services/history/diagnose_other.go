//go:build !linux

package history

// whyNot finds nothing in the way here: SQLite's own errors stand.
func whyNot(path string, writable bool) error { return nil }

// readOnlyFS is not known here.
func readOnlyFS(path string) bool { return false }

// LockHolder is not known here.
func LockHolder(path string) string { return "" }

// Free is not known here.
func (d *DB) Free() (free, size int64, ok bool) { return 0, 0, false }
