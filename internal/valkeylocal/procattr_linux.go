package valkeylocal

import "syscall"

// sysProcAttr asks the kernel to kill the server when the process that started it dies,
// so a test binary killed mid-run leaves no redis-server behind. (The signal follows the
// starting OS thread, which the Go runtime keeps for the life of an ordinary program.)
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
