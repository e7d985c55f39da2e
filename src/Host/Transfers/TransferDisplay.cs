using System.Diagnostics;
using System.Globalization;
using Courier.Transfers;
using Spectre.Console;
using Spectre.Console.Rendering;

namespace Courier.Host.Transfers;

/// <summary>How a transfer's progress is shown.</summary>
internal enum ProgressMode
{
    /// <summary>A live Spectre.Console bar (a terminal).</summary>
    Live,

    /// <summary>Plain lines (redirected output, CI, <c>--plain</c>).</summary>
    Lines,

    /// <summary>Nothing (<c>--json</c>: the summary is the output).</summary>
    None,
}

/// <summary>
/// Shows one transfer's progress while it runs, from the values the runtime reports (<see cref="TransferProgress"/>):
/// a live bar with bytes, rate and ETA, an unknown total shown as such; or plain lines, see <see cref="ProgressLines"/>.
/// </summary>
internal static class TransferDisplay
{
    // What LiveProgress leaves in a task's state for TransferColumn (ProgressTask.Value is capped at MaxValue: no use for an unknown size).
    private const string BytesKey = "courier.bytes", TotalKey = "courier.total", RateKey = "courier.rate", EtaKey = "courier.eta";

    /// <summary>Runs <paramref name="transfer"/> with the progress receiver <paramref name="mode"/> calls for.</summary>
    public static Task<TransferCompleted> RunAsync(IAnsiConsole console, ProgressMode mode, string label,
        Func<IProgress<TransferProgress>?, Task<TransferCompleted>> transfer)
    {
        switch (mode)
        {
            case ProgressMode.Live:
                return console.Progress().AutoClear(false).HideCompleted(false)
                    .Columns(new TaskDescriptionColumn(), new ProgressBarColumn(), new TransferColumn())
                    .StartAsync(async context =>
                    {
                        var task = context.AddTask(Markup.Escape(label), autoStart: true, maxValue: 1);
                        task.IsIndeterminate = true;
                        var completed = await transfer(new LiveProgress(task));
                        task.StopTask();
                        return completed;
                    });
            case ProgressMode.Lines:
                var clock = Stopwatch.StartNew();
                return transfer(new ProgressLines(label, console.WriteLine, () => clock.Elapsed));
            default:
                return transfer(null);
        }
    }

    /// <summary>"14.4 MiB / 32.0 MiB (45 %), 21.3 MiB/s, ETA 2 s", or "14.4 MiB / size unknown, 21.3 MiB/s".</summary>
    public static string Describe(TransferProgress progress) =>
        Describe(progress.BytesTransferred, progress.TotalBytes, progress.BytesPerSecond, progress.Eta);

    private static string Describe(long bytes, long? total, double bytesPerSecond, TimeSpan? eta)
    {
        var size = total is { } known
            ? $"{FormatBytes(bytes)} / {FormatBytes(known)} ({(known == 0 ? 100 : Math.Min(100, 100.0 * bytes / known)):0} %)"
            : $"{FormatBytes(bytes)} / size unknown";
        return $"{size}, {FormatRate(bytesPerSecond)}{(eta is { } left ? $", ETA {FormatDuration(left)}" : "")}";
    }

    public static string FormatBytes(double bytes) => bytes switch
    {
        < 1024 => string.Create(CultureInfo.InvariantCulture, $"{bytes:0} B"),
        < 1024 * 1024 => string.Create(CultureInfo.InvariantCulture, $"{bytes / 1024:0.0} KiB"),
        < 1024L * 1024 * 1024 => string.Create(CultureInfo.InvariantCulture, $"{bytes / (1024 * 1024):0.0} MiB"),
        _ => string.Create(CultureInfo.InvariantCulture, $"{bytes / (1024L * 1024 * 1024):0.00} GiB"),
    };

    public static string FormatRate(double bytesPerSecond) => FormatBytes(bytesPerSecond) + "/s";

    public static string FormatRate(long bytes, TimeSpan duration) => FormatRate(bytes / Math.Max(duration.TotalSeconds, 0.001));

    private static string FormatDuration(TimeSpan duration) =>
        duration.TotalHours >= 1 ? duration.ToString(@"h\:mm\:ss", CultureInfo.InvariantCulture)
        : duration.TotalMinutes >= 1 ? duration.ToString(@"m\:ss", CultureInfo.InvariantCulture)
        : string.Create(CultureInfo.InvariantCulture, $"{Math.Ceiling(duration.TotalSeconds):0} s");

    /// <summary>Moves the bar; the numbers go into the task's state for <see cref="TransferColumn"/>.</summary>
    private sealed class LiveProgress : IProgress<TransferProgress>
    {
        private readonly ProgressTask _task;

        public LiveProgress(ProgressTask task)
        {
            _task = task;
            task.State.Update<long>(TotalKey, _ => -1); // unknown until the first report
            task.State.Update<double>(EtaKey, _ => -1);
        }

        public void Report(TransferProgress value)
        {
            // The bar needs a total; an unknown one keeps it indeterminate.
            _task.State.Update<long>(BytesKey, _ => value.BytesTransferred);
            _task.State.Update<long>(TotalKey, _ => value.TotalBytes ?? -1);
            _task.State.Update<double>(RateKey, _ => value.BytesPerSecond);
            _task.State.Update<double>(EtaKey, _ => value.Eta?.TotalSeconds ?? -1);
            if (value.TotalBytes is { } total)
            {
                _task.IsIndeterminate = false;
                _task.MaxValue = Math.Max(1, total);
                _task.Value = Math.Min(value.BytesTransferred, _task.MaxValue);
            }
            else
            {
                _task.IsIndeterminate = true;
            }
        }
    }

    /// <summary>Bytes, rate and ETA of a task fed by <see cref="LiveProgress"/>.</summary>
    private sealed class TransferColumn : ProgressColumn
    {
        public override IRenderable Render(RenderOptions options, ProgressTask task, TimeSpan deltaTime)
        {
            var total = task.State.Get<long>(TotalKey);
            var eta = task.State.Get<double>(EtaKey);
            return new Text(Describe(task.State.Get<long>(BytesKey), total < 0 ? null : total, task.State.Get<double>(RateKey),
                eta < 0 ? null : TimeSpan.FromSeconds(eta)));
        }
    }
}

/// <summary>
/// Progress as plain lines for logs and CI: one when the transfer crosses another 10 % of its total, else at most one a
/// second (so a transfer of unknown size still shows it moves), and the last one. Thread-safe.
/// </summary>
internal sealed class ProgressLines(string label, Action<string> write, Func<TimeSpan> clock) : IProgress<TransferProgress>
{
    private static readonly TimeSpan Interval = TimeSpan.FromSeconds(1);
    private readonly Lock _lock = new();
    private TimeSpan _lastLine;
    private int _lastTenth;
    private bool _done;

    public void Report(TransferProgress value)
    {
        lock (_lock)
        {
            if (_done) return;
            var now = clock();
            var tenth = value.Fraction is { } fraction ? (int)Math.Floor(fraction * 10) : _lastTenth;
            var finished = value.TotalBytes is { } total && value.BytesTransferred >= total;
            if (tenth <= _lastTenth && now - _lastLine < Interval && !finished) return;
            _lastTenth = Math.Max(tenth, _lastTenth);
            _lastLine = now;
            _done = finished;
            write($"{label}: {TransferDisplay.Describe(value)}");
        }
    }
}
