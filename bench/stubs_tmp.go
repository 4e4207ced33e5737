package bench

import (
	"context"
	"errors"
	"io"
)

type RoundTripOptions struct{ Quick bool }

func RoundTrip(ctx context.Context, o RoundTripOptions) (*Result, error) {
	return nil, errors.New("todo")
}

type LoadOptions struct {
	Quick bool
	Log   io.Writer
}

func Load(ctx context.Context, o LoadOptions) (*Result, error) { return nil, errors.New("todo") }

type FaultOptions struct {
	Quick bool
	Log   io.Writer
}

func Fault(ctx context.Context, o FaultOptions) (*Result, error) { return nil, errors.New("todo") }
