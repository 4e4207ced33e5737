//go:build !linux

package valkeylocal

import "syscall"

// sysProcAttr has nothing to add outside Linux; Stop is what ends the server there.
func sysProcAttr() *syscall.SysProcAttr { return nil }
