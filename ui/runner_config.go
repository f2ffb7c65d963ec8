package ui

import (
	"context"
	"errors"
	"fmt"

	"capship/store"
	"capship/workflow"
)

// SetServer writes the three plugin URLs of the capship server at baseURL
// into the app's Capacitor config, then reads the project again.
func (r *RealRunner) SetServer(p Project, baseURL string) (Project, error) {
	if err := workflow.SetServer(p.ConfigPath, baseURL); err != nil {
		return Project{}, err
	}
	return r.LoadProject(p.Dir, p.ConfigPath)
}

// SetVersion writes version into the app's package.json.
func (r *RealRunner) SetVersion(p Project, version string) error {
	return workflow.SetPackageVersion(p.Dir, version)
}

// Channel reads what the app's channel serves, from the registry or the
// capship server.
func (r *RealRunner) Channel(ctx context.Context, appID, name string) (ChannelInfo, error) {
	m, err := r.manager(ctx, false)
	if errors.Is(err, store.ErrNoRegistry) {
		return ChannelInfo{Name: name}, nil
	}
	if err != nil {
		return ChannelInfo{}, err
	}
	chs, err := m.Channels(ctx, appID)
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return ChannelInfo{}, fmt.Errorf("read channel %s of %s: %w", name, appID, err)
	}
	for _, c := range chs {
		if c.Name == name {
			return channelInfo(c), nil
		}
	}
	return ChannelInfo{Name: name}, nil
}

func channelInfo(c store.Channel) ChannelInfo {
	info := ChannelInfo{Name: c.Name, Exists: true, Rollout: c.Rollout}
	if c.Release != nil {
		info.Version, info.ZipSHA256 = c.Release.Version, c.Release.ZipSHA256
	}
	for _, p := range []struct {
		on   bool
		name string
	}{{c.Android, store.PlatformAndroid}, {c.IOS, store.PlatformIOS}, {c.Electron, store.PlatformElectron}} {
		if p.on {
			info.Platforms = append(info.Platforms, p.name)
		}
	}
	return info
}
