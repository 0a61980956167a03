package builder

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// readStartInterval reads Healthcheck.StartInterval from an image's raw
// config, a field go-containerregistry's config type drops.
func readStartInterval(img v1.Image) (time.Duration, error) {
	raw, err := img.RawConfigFile()
	if err != nil {
		return 0, err
	}
	var c struct {
		Config struct {
			Healthcheck *struct{ StartInterval time.Duration }
		}
	}
	if err := json.Unmarshal(raw, &c); err != nil {
		return 0, fmt.Errorf("reading the healthcheck of the config: %w", err)
	}
	if c.Config.Healthcheck == nil {
		return 0, nil
	}
	return c.Config.Healthcheck.StartInterval, nil
}

// withStartInterval writes a healthcheck start interval into img's config,
// as Docker's image spec has it.
func withStartInterval(img v1.Image, d time.Duration) (v1.Image, error) {
	cf, err := img.ConfigFile()
	if err != nil || d == 0 || cf.Config.Healthcheck == nil {
		return img, err
	}
	raw, err := img.RawConfigFile()
	if err != nil {
		return nil, err
	}
	var doc map[string]json.RawMessage
	if err := json.Unmarshal(raw, &doc); err != nil {
		return nil, err
	}
	var conf map[string]json.RawMessage
	if err := json.Unmarshal(doc["config"], &conf); err != nil {
		return nil, err
	}
	var hc map[string]json.RawMessage
	if err := json.Unmarshal(conf["Healthcheck"], &hc); err != nil {
		return nil, err
	}
	hc["StartInterval"], _ = json.Marshal(int64(d))
	if conf["Healthcheck"], err = json.Marshal(hc); err != nil {
		return nil, err
	}
	if doc["config"], err = json.Marshal(conf); err != nil {
		return nil, err
	}
	newRaw, err := json.Marshal(doc)
	if err != nil {
		return nil, err
	}
	return newConfigImage(img, newRaw)
}

// configImage is an image with another config blob.
type configImage struct {
	v1.Image
	cfg      []byte
	manifest []byte
	m        *v1.Manifest
}

func newConfigImage(img v1.Image, cfg []byte) (v1.Image, error) {
	m, err := img.Manifest()
	if err != nil {
		return nil, err
	}
	m = m.DeepCopy()
	sum := sha256.Sum256(cfg)
	m.Config.Digest = v1.Hash{Algorithm: "sha256", Hex: hex.EncodeToString(sum[:])}
	m.Config.Size = int64(len(cfg))
	raw, err := json.Marshal(m)
	if err != nil {
		return nil, err
	}
	return &configImage{Image: img, cfg: cfg, manifest: raw, m: m}, nil
}

func (c *configImage) RawConfigFile() ([]byte, error) { return c.cfg, nil }
func (c *configImage) ConfigName() (v1.Hash, error)   { return c.m.Config.Digest, nil }
func (c *configImage) Manifest() (*v1.Manifest, error) {
	return c.m.DeepCopy(), nil
}
func (c *configImage) RawManifest() ([]byte, error) { return c.manifest, nil }
func (c *configImage) Size() (int64, error)         { return int64(len(c.manifest)), nil }

func (c *configImage) Digest() (v1.Hash, error) {
	h, _, err := v1.SHA256(bytes.NewReader(c.manifest))
	return h, err
}

func (c *configImage) ConfigFile() (*v1.ConfigFile, error) {
	return v1.ParseConfigFile(bytes.NewReader(c.cfg))
}
