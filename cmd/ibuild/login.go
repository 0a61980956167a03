package main

import (
	"bufio"
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/ibuild/ibuild/registry"
)

type loginFlags struct {
	user, password string
	passwordStdin  bool
	insecure       []string
}

func newLoginCommand(a *app) *cobra.Command {
	f := &loginFlags{}
	cmd := &cobra.Command{
		Use:   "login [flags] [SERVER]",
		Short: "Log in to a registry",
		Long: "Check a user name and password (or access token) with a registry and store " +
			"them in\nDocker's config file ($DOCKER_CONFIG/config.json or " +
			"~/.docker/config.json), or in the\ncredential helper it names, where ibuild, " +
			"docker, buildah and crane all find them.\nWithout SERVER, Docker Hub.",
		Example: "  echo \"$TOKEN\" | ibuild login -u me --password-stdin registry.example.com\n" +
			"  ibuild login -u me localhost:5000",
		Args: rangeArgs(0, 1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runLogin(cmd, a, f, args)
		},
	}
	fl := cmd.Flags()
	fl.StringVarP(&f.user, "username", "u", "", "user name")
	fl.StringVarP(&f.password, "password", "p", "", "password (prefer --password-stdin)")
	fl.BoolVar(&f.passwordStdin, "password-stdin", false, "read the password from stdin")
	fl.StringArrayVar(&f.insecure, "insecure-registry", nil,
		"registry HOST[:PORT] reached over plain HTTP (repeatable)")
	return cmd
}

func runLogin(cmd *cobra.Command, a *app, f *loginFlags, args []string) error {
	server := ""
	if len(args) == 1 {
		server = args[0]
	}
	key := authKey(server)
	if err := f.readCredentials(cmd); err != nil {
		return err
	}
	c, err := a.config()
	if err != nil {
		return err
	}
	if !cmd.Flags().Changed("insecure-registry") {
		f.insecure = c.Insecure
	}
	o := registry.Options{Insecure: f.insecure}
	if err := o.CheckLogin(cmd.Context(), authHost(key), f.user, f.password); err != nil {
		return err
	}
	path, err := dockerConfigPath(a.getenv)
	if err != nil {
		return err
	}
	dc, err := readDockerConfig(path)
	if err != nil {
		return err
	}
	if err := dc.setAuth(key, f.user, f.password); err != nil {
		return err
	}
	fmt.Fprintln(cmd.OutOrStdout(), "Login Succeeded")
	return nil
}

// readCredentials completes the user name and password from stdin: the
// password with --password-stdin, or both by asking on a terminal.
func (f *loginFlags) readCredentials(cmd *cobra.Command) error {
	in, errOut := cmd.InOrStdin(), cmd.ErrOrStderr()
	fd, tty := terminalFd(in)
	switch {
	case f.passwordStdin && f.password != "":
		return usageError{fmt.Errorf("--password and --password-stdin are mutually exclusive")}
	case f.passwordStdin && f.user == "":
		return usageError{fmt.Errorf("--password-stdin needs the user name: give -u USER")}
	case f.passwordStdin:
		b, err := io.ReadAll(in)
		if err != nil {
			return fmt.Errorf("reading the password from stdin: %w", err)
		}
		f.password = strings.TrimRight(string(b), "\r\n")
	case f.password != "":
		fmt.Fprintln(errOut, "WARNING! Using --password on the command line is insecure: "+
			"use --password-stdin.")
	}
	if f.user == "" || f.password == "" {
		if !tty {
			return usageError{fmt.Errorf("give -u USER and --password-stdin " +
				"(stdin is not a terminal to ask on)")}
		}
		if f.user == "" {
			fmt.Fprint(errOut, "Username: ")
			line, err := bufio.NewReader(in).ReadString('\n')
			if err != nil {
				return fmt.Errorf("reading the user name: %w", err)
			}
			f.user = strings.TrimSpace(line)
		}
		if f.password == "" {
			fmt.Fprint(errOut, "Password: ")
			b, err := term.ReadPassword(fd)
			fmt.Fprintln(errOut)
			if err != nil {
				return fmt.Errorf("reading the password: %w", err)
			}
			f.password = string(b)
		}
	}
	if f.user == "" || f.password == "" {
		return usageError{fmt.Errorf("a user name and a password are needed")}
	}
	return nil
}

func newLogoutCommand(a *app) *cobra.Command {
	return &cobra.Command{
		Use:   "logout [SERVER]",
		Short: "Forget the credentials of a registry",
		Long: "Remove the credentials of a registry (default Docker Hub) from Docker's " +
			"config file\nor its credential helper.",
		Example: "  ibuild logout registry.example.com",
		Args:    rangeArgs(0, 1),
		RunE: func(cmd *cobra.Command, args []string) error {
			server := ""
			if len(args) == 1 {
				server = args[0]
			}
			key := authKey(server)
			path, err := dockerConfigPath(a.getenv)
			if err != nil {
				return err
			}
			dc, err := readDockerConfig(path)
			if err != nil {
				return err
			}
			removed, err := dc.removeAuth(key)
			if err != nil {
				return err
			}
			if !removed {
				fmt.Fprintf(cmd.OutOrStdout(), "Not logged in to %s\n", key)
				return nil
			}
			fmt.Fprintf(cmd.OutOrStdout(), "Removing login credentials for %s\n", key)
			return nil
		},
	}
}
