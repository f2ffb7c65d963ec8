package cli

import (
	"context"
	"errors"
	"fmt"

	"capship/store"
)

// checkNativeFirst refuses a registration whose native packages differ
// from the release its channel serves before the bundle is downloaded
// back; the registry checks again when it registers. reg or client is the
// registry.
func checkNativeFirst(ctx context.Context, reg store.Registry, client *store.Client, in *store.RegisterInput) error {
	if in.Channel == "" || in.NativePackages == nil {
		return nil
	}
	var served *store.Release
	if client != nil {
		chs, err := client.Channels(ctx, in.AppID)
		if err != nil {
			return nil // the registration itself will say what is wrong
		}
		for _, ch := range chs {
			if ch.Name == in.Channel {
				served = ch.Release
			}
		}
	} else if ch, err := reg.Channel(ctx, in.AppID, in.Channel); err == nil {
		served = ch.Release
	}
	if err := store.CheckNative(in, served); err != nil {
		return withNativeAdvice(fmt.Errorf("register release: %w", err))
	}
	return nil
}

// withNativeAdvice adds the command line's ways out to a registration
// refused for its native packages.
func withNativeAdvice(err error) error {
	if errors.Is(err, store.ErrNativeChange) {
		return fmt.Errorf("%w\n  ship a native build with them first, then register with --min-native VERSION (only native apps at VERSION or later get it),\n  or pass --allow-native-change if this web bundle does not call them", err)
	}
	return err
}
