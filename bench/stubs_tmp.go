package bench

import (
	"context"
	"errors"
	"io"
)

type FaultOptions struct {
	Quick bool
	Log   io.Writer
}

func Fault(ctx context.Context, o FaultOptions) (*Result, error) { return nil, errors.New("todo") }
