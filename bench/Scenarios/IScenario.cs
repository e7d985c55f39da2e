namespace Courier.Bench.Scenarios;

/// <summary>One benchmark verb of <c>Courier.Bench</c>.</summary>
internal interface IScenario
{
    /// <summary>The verb on the command line, e.g. <c>http</c>.</summary>
    string Name { get; }

    /// <summary>One-line synopsis with the options and their defaults.</summary>
    string Usage { get; }

    /// <summary>One sentence on what is measured.</summary>
    string Description { get; }

    /// <summary>Runs the scenario, writes its Markdown report to stdout and returns the exit code.</summary>
    /// <param name="args">The arguments after the verb.</param>
    /// <param name="cancellationToken">Ctrl+C.</param>
    /// <exception cref="UsageException">The arguments are invalid.</exception>
    Task<int> RunAsync(string[] args, CancellationToken cancellationToken);
}
