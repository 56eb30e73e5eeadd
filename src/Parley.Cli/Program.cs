return await Parley.Cli.ParleyCli.RunAsync(args);
