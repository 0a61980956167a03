package main

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// hubAuthKey is the key Docker stores Docker Hub credentials under.
const hubAuthKey = "https://index.docker.io/v1/"

// authKey is the key of server in the auths of Docker's config file:
// host[:port], or Docker Hub's URL for Docker Hub.
func authKey(server string) string {
	s := strings.TrimPrefix(strings.TrimPrefix(server, "https://"), "http://")
	if i := strings.IndexByte(s, '/'); i >= 0 {
		s = s[:i]
	}
	switch s {
	case "", "docker.io", "index.docker.io", "registry-1.docker.io":
		return hubAuthKey
	}
	return s
}

// authHost is the registry host to check credentials against.
func authHost(key string) string {
	if key == hubAuthKey {
		return "index.docker.io"
	}
	return key
}

// dockerConfig is Docker's config.json (see `docker login`), with the keys
// ibuild does not know kept as they are.
type dockerConfig struct {
	path string
	raw  map[string]json.RawMessage
}

// dockerConfigPath is $DOCKER_CONFIG/config.json, else ~/.docker/config.json.
func dockerConfigPath(getenv func(string) string) (string, error) {
	if d := getenv("DOCKER_CONFIG"); d != "" {
		return filepath.Join(d, "config.json"), nil
	}
	home := getenv("HOME")
	if home == "" {
		var err error
		if home, err = os.UserHomeDir(); err != nil {
			return "", fmt.Errorf("finding the Docker config file: %w", err)
		}
	}
	return filepath.Join(home, ".docker", "config.json"), nil
}

func readDockerConfig(path string) (*dockerConfig, error) {
	c := &dockerConfig{path: path, raw: map[string]json.RawMessage{}}
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return c, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", path, err)
	}
	if len(bytes.TrimSpace(b)) > 0 {
		if err := json.Unmarshal(b, &c.raw); err != nil {
			return nil, fmt.Errorf("parsing %s: %w", path, err)
		}
	}
	return c, nil
}

func (c *dockerConfig) auths() (map[string]json.RawMessage, error) {
	auths := map[string]json.RawMessage{}
	if a, ok := c.raw["auths"]; ok {
		if err := json.Unmarshal(a, &auths); err != nil {
			return nil, fmt.Errorf("parsing the auths of %s: %w", c.path, err)
		}
	}
	return auths, nil
}

// helper is the credential helper for key, "" when credentials go into
// the file itself.
func (c *dockerConfig) helper(key string) string {
	var helpers map[string]string
	if h, ok := c.raw["credHelpers"]; ok && json.Unmarshal(h, &helpers) == nil {
		if name := helpers[key]; name != "" {
			return name
		}
	}
	var store string
	if s, ok := c.raw["credsStore"]; ok {
		_ = json.Unmarshal(s, &store)
	}
	return store
}

// setAuth stores user and password for key: in the file as base64
// "user:password", or through the credential helper the file names.
func (c *dockerConfig) setAuth(key, user, password string) error {
	if h := c.helper(key); h != "" {
		payload, _ := json.Marshal(map[string]string{
			"ServerURL": key, "Username": user, "Secret": password})
		return runCredHelper(h, "store", payload)
	}
	auths, err := c.auths()
	if err != nil {
		return err
	}
	enc := base64.StdEncoding.EncodeToString([]byte(user + ":" + password))
	auths[key], _ = json.Marshal(map[string]string{"auth": enc})
	return c.writeAuths(auths)
}

// removeAuth forgets the credentials of key; it reports whether there
// were any in the file.
func (c *dockerConfig) removeAuth(key string) (bool, error) {
	if h := c.helper(key); h != "" {
		return true, runCredHelper(h, "erase", []byte(key))
	}
	auths, err := c.auths()
	if err != nil {
		return false, err
	}
	if _, ok := auths[key]; !ok {
		return false, nil
	}
	delete(auths, key)
	return true, c.writeAuths(auths)
}

// writeAuths writes the file with new auths, readable by its owner only,
// through a temp file and a rename.
func (c *dockerConfig) writeAuths(auths map[string]json.RawMessage) error {
	var err error
	if c.raw["auths"], err = json.Marshal(auths); err != nil {
		return err
	}
	b, err := json.MarshalIndent(c.raw, "", "\t")
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(c.path), 0o700); err != nil {
		return fmt.Errorf("writing %s: %w", c.path, err)
	}
	f, err := os.CreateTemp(filepath.Dir(c.path), ".config.json-*")
	if err != nil {
		return fmt.Errorf("writing %s: %w", c.path, err)
	}
	defer os.Remove(f.Name())
	_, err = f.Write(append(b, '\n'))
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(f.Name(), c.path)
	}
	if err != nil {
		return fmt.Errorf("writing %s: %w", c.path, err)
	}
	return nil
}

// runCredHelper runs docker-credential-NAME with action and input on stdin,
// as Docker does.
func runCredHelper(name, action string, input []byte) error {
	cmd := exec.Command("docker-credential-"+name, action)
	cmd.Stdin = bytes.NewReader(input)
	out, err := cmd.CombinedOutput()
	if err != nil {
		return fmt.Errorf("credential helper docker-credential-%s %s: %w: %s", name, action,
			err, strings.TrimSpace(string(out)))
	}
	return nil
}
