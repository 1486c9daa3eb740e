package sockettest

import "runtime"

// Keep the main goroutine on the main OS thread. Tests move locked threads
// into other network namespaces (ExternalPeer.Do); a locked goroutine that
// ends on the main thread would leave that thread, whose namespace
// /proc/self/net and /proc/net report, in the other namespace for good.
func init() { runtime.LockOSThread() }
