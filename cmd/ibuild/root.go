package main

import (
	"fmt"
	"os"
	"strings"
	"sync"

	"github.com/spf13/cobra"
)

// app is what every command shares: the settings of the config file and
// the environment, read once.
type app struct {
	getenv func(string) string

	once sync.Once
	cfg  config
	err  error
}

func newApp() *app { return &app{getenv: os.Getenv} }

// config returns the settings of the config file and the environment.
func (a *app) config() (config, error) {
	a.once.Do(func() { a.cfg, a.err = loadConfig(a.getenv) })
	return a.cfg, a.err
}

// storeRoot is the store directory: the --root flag, else $IBUILD_ROOT or
// the config file's root, else the default.
func (a *app) storeRoot(flag string) (string, error) {
	if flag != "" {
		return flag, nil
	}
	c, err := a.config()
	if err != nil {
		return "", err
	}
	if c.Root != "" {
		return c.Root, nil
	}
	return defaultRoot(), nil
}

func newRootCommand() *cobra.Command {
	a := newApp()
	bf := &buildFlags{}
	root := &cobra.Command{
		Use:   "ibuild [flags] CONTEXT",
		Short: "Build OCI images from Dockerfiles, without a daemon and without root",
		Long: "ibuild builds an image from a Dockerfile and a build context, like " +
			"`docker build`,\nand stores it locally, writes it to a file or pushes it to a " +
			"registry.\n\nSettings: flags, then IBUILD_* environment variables, then " +
			"$XDG_CONFIG_HOME/ibuild/config.toml.\nExit status: 0 done, 1 the build or " +
			"command failed, 2 the command line was wrong.",
		Example: "  ibuild -t hello examples/hello\n" +
			"  ibuild -f Dockerfile -t localhost:5000/app --push .\n" +
			"  ibuild -o type=oci,dest=out/ .\n" +
			"  ibuild -o type=docker,dest=img.tar -t app .\n" +
			"  ibuild images",
		Args:              rootArgs,
		ValidArgsFunction: completeDirs,
		SilenceUsage:      true,
		SilenceErrors:     true,
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) == 0 {
				if cmd.Flags().NFlag() > 0 {
					// Flags without a context: a build with its "." forgotten.
					return usageError{fmt.Errorf("missing the build context (a directory, " +
						"e.g. \".\")\nUsage: ibuild [flags] CONTEXT\nSee 'ibuild --help'.")}
				}
				return cmd.Help()
			}
			return runBuild(cmd, a, bf, args[0])
		},
	}
	root.SuggestionsMinimumDistance = 2
	bf.register(root)
	root.SetFlagErrorFunc(func(c *cobra.Command, err error) error {
		return usageError{fmt.Errorf("%w\nSee '%s --help'.", err, c.CommandPath())}
	})
	root.AddCommand(newBuildCommand(a), newVersionCommand(),
		newImagesCommand(a), newPushCommand(a), newTagCommand(a), newRmCommand(a),
		newSaveCommand(a), newLoadCommand(a), newInspectCommand(a), newPruneCommand(a),
		newLoginCommand(a), newLogoutCommand(a))
	setupCompletion(root)
	return root
}

// setupCompletion adds cobra's completion command now, to give it
// examples and a usage error for an unknown shell.
func setupCompletion(root *cobra.Command) {
	root.InitDefaultCompletionCmd()
	for _, c := range root.Commands() {
		if c.Name() != "completion" {
			continue
		}
		c.Example = "  source <(ibuild completion bash)\n" +
			"  ibuild completion zsh > \"${fpath[1]}/_ibuild\"\n" +
			"  ibuild completion fish > ~/.config/fish/completions/ibuild.fish"
		c.Args = cobra.ArbitraryArgs
		c.RunE = func(cmd *cobra.Command, args []string) error {
			if len(args) > 0 {
				return usageError{fmt.Errorf("unknown shell %q: use bash, zsh, fish or "+
					"powershell\nSee '%s --help'.", args[0], cmd.CommandPath())}
			}
			return cmd.Help()
		}
	}
}

// rootArgs accepts one build context. A word that is no directory and
// looks like a mistyped command is reported as such.
func rootArgs(cmd *cobra.Command, args []string) error {
	if len(args) == 0 {
		return nil
	}
	fi, err := os.Stat(args[0])
	isDir := err == nil && fi.IsDir()
	if !isDir && !strings.ContainsAny(args[0], "/.") {
		msg := fmt.Sprintf("unknown command %q for %q", args[0], cmd.CommandPath())
		if s := cmd.SuggestionsFor(args[0]); len(s) > 0 {
			msg += "\n\nDid you mean this?\n\t" + strings.Join(s, "\n\t") + "\n"
		}
		return usageError{fmt.Errorf("%s\nSee '%s --help'.", msg, cmd.CommandPath())}
	}
	if len(args) > 1 {
		return usageError{fmt.Errorf("%q takes one build context, got %d arguments\n"+
			"See '%s --help'.", cmd.CommandPath(), len(args), cmd.CommandPath())}
	}
	return nil
}

func newBuildCommand(a *app) *cobra.Command {
	bf := &buildFlags{}
	cmd := &cobra.Command{
		Use:   "build [flags] CONTEXT",
		Short: "Build an image from a Dockerfile (the same as ibuild with no command)",
		Example: "  ibuild build -t myimg .\n" +
			"  ibuild build --progress=plain --no-cache -t myimg:1 .\n" +
			"  ibuild build -q --iidfile id.txt .",
		Args:              exactArgs(1),
		ValidArgsFunction: completeDirs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return runBuild(cmd, a, bf, args[0])
		},
	}
	bf.register(cmd)
	return cmd
}

// exactArgs is cobra.ExactArgs with a usage error.
func exactArgs(n int) cobra.PositionalArgs {
	return rangeArgs(n, n)
}

// rangeArgs accepts min to max arguments (max < 0: no limit), else gives a
// usage error that points at --help.
func rangeArgs(min, max int) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if len(args) >= min && (max < 0 || len(args) <= max) {
			return nil
		}
		var want string
		switch {
		case min == max:
			want = fmt.Sprintf("exactly %d argument(s)", min)
		case max < 0:
			want = fmt.Sprintf("at least %d argument(s)", min)
		default:
			want = fmt.Sprintf("%d to %d arguments", min, max)
		}
		return usageError{fmt.Errorf("%q needs %s, got %d\nUsage: %s\nSee '%s --help'.",
			cmd.CommandPath(), want, len(args), cmd.UseLine(), cmd.CommandPath())}
	}
}

// completeDirs completes a build context: directories only.
func completeDirs(*cobra.Command, []string, string) ([]string, cobra.ShellCompDirective) {
	return nil, cobra.ShellCompDirectiveFilterDirs
}
