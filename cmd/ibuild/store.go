package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"syscall"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/spf13/cobra"

	"github.com/ibuild/ibuild/registry"
)

// storeLockName is the flock under ROOT/locks that keeps prune from
// deleting what a running command uses: commands that write to the store
// hold it shared, prune holds it exclusive.
const storeLockName = "store.lock"

// lockStore takes the store lock of root, shared or exclusive. An
// exclusive lock is not waited for: the error says the store is busy.
func lockStore(root string, exclusive bool) (func(), error) {
	dir := filepath.Join(root, "locks")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("locking the store %s: %w", root, err)
	}
	f, err := os.OpenFile(filepath.Join(dir, storeLockName), os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return nil, fmt.Errorf("locking the store %s: %w", root, err)
	}
	how := syscall.LOCK_SH
	if exclusive {
		how = syscall.LOCK_EX | syscall.LOCK_NB
	} else {
		sweepTmp(f, root)
	}
	for {
		err = syscall.Flock(int(f.Fd()), how)
		if !errors.Is(err, syscall.EINTR) {
			break
		}
	}
	if errors.Is(err, syscall.EWOULDBLOCK) {
		f.Close()
		return nil, fmt.Errorf("the store %s is in use by another ibuild command "+
			"(a build, load or push); try again when it has finished", root)
	}
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("locking the store %s: %w", root, err)
	}
	return func() { f.Close() }, nil
}

// storeFlags are the flags of the commands that work on the local store.
type storeFlags struct{ root string }

func (s *storeFlags) register(cmd *cobra.Command) {
	cmd.Flags().StringVar(&s.root, "root", "",
		"store directory (default $IBUILD_ROOT, the config file's root, or "+defaultRoot()+")")
}

// open enters the namespaces the store's files need (see enterNamespaces)
// and returns the store. With write, the store is created when missing and
// the shared store lock is held until the returned function is called.
func (s *storeFlags) open(a *app, write bool) (*registry.ImageStore, func(), error) {
	root, err := a.storeRoot(s.root)
	if err != nil {
		return nil, nil, err
	}
	if _, err := enterNamespaces(); err != nil {
		return nil, nil, err
	}
	if !write {
		return &registry.ImageStore{Root: root}, func() {}, nil
	}
	unlock, err := lockStore(root, false)
	if err != nil {
		return nil, nil, err
	}
	st, err := registry.OpenImageStore(root)
	if err != nil {
		unlock()
		return nil, nil, err
	}
	return st, unlock, nil
}

// findImage looks ref up in the store, with an error a person can act on
// when it is not there. For an index it is the host platform's image (or
// the first, see registry.ImageStore.Image).
func findImage(st *registry.ImageStore, ref string) (v1.Image, error) {
	if err := checkStore(st, ref); err != nil {
		return nil, err
	}
	img, err := st.Image(ref)
	return img, notFound(st, ref, err)
}

// findEntry is findImage for the index entry ref names: an image manifest
// or an image index, with its names.
func findEntry(st *registry.ImageStore, ref string) (registry.Entry, error) {
	if err := checkStore(st, ref); err != nil {
		return registry.Entry{}, err
	}
	e, err := st.Lookup(ref)
	return e, notFound(st, ref, err)
}

// checkStore says that there is no image ref when the store is empty.
func checkStore(st *registry.ImageStore, ref string) error {
	if _, err := os.Stat(filepath.Join(st.Root, "index.json")); errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("no such image: %s (the store %s is empty; see 'ibuild images')",
			ref, st.Root)
	}
	return nil
}

// notFound turns a lookup's ErrNotFound into an error a person can act on.
func notFound(st *registry.ImageStore, ref string, err error) error {
	if errors.Is(err, registry.ErrNotFound) {
		return fmt.Errorf("no such image: %s (see 'ibuild images' for the images in %s)",
			ref, st.Root)
	}
	return err
}

// imageNames returns the full names of every entry of the store with image
// ID id (the names of one image, as Docker counts images), and whether
// there is such an entry.
func imageNames(st *registry.ImageStore, id v1.Hash) ([]string, bool, error) {
	list, err := st.List()
	if err != nil {
		return nil, false, err
	}
	var out []string
	found := false
	for _, si := range list {
		if si.ID == id {
			out, found = append(out, si.Tags...), true
		}
	}
	return out, found, nil
}

// completeImages completes image names from the store, without entering
// namespaces (the index is readable by its owner).
func completeImages(a *app, s *storeFlags) cobra.CompletionFunc {
	return func(_ *cobra.Command, _ []string, prefix string) ([]string, cobra.ShellCompDirective) {
		root, err := a.storeRoot(s.root)
		if err != nil {
			return nil, cobra.ShellCompDirectiveNoFileComp
		}
		list, err := (&registry.ImageStore{Root: root}).List()
		if err != nil {
			return nil, cobra.ShellCompDirectiveNoFileComp
		}
		var out []string
		for _, si := range list {
			for _, t := range si.Tags {
				if n := registry.FamiliarName(t); strings.HasPrefix(n, prefix) {
					out = append(out, n)
				}
			}
		}
		sort.Strings(out)
		return out, cobra.ShellCompDirectiveNoFileComp
	}
}
