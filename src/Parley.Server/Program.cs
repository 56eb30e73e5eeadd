await Parley.Server.ParleyApp.Build(args).RunAsync();
