namespace TensorZero.Proxy;

/// <summary>
/// The gateway cannot start for a reason the operator has to fix (an invalid tensorzero.toml, a data folder held by
/// another gateway process). <see cref="Exception.Message"/> says what and where, meant to be printed as it is: a host
/// catches this type and exits with the message and no stack trace.
/// </summary>
public class TensorZeroStartupException : Exception
{
    /// <summary>Creates the exception with the message shown to the operator.</summary>
    public TensorZeroStartupException(string message)
        : base(message)
    {
    }

    /// <summary>Creates the exception with the message shown to the operator and the failure behind it.</summary>
    public TensorZeroStartupException(string message, Exception? innerException)
        : base(message, innerException)
    {
    }

    /// <summary>
    /// The first <see cref="TensorZeroStartupException"/> in <paramref name="exception"/> or its inner exceptions
    /// (dependency injection and hosting may wrap it), or null.
    /// </summary>
    public static TensorZeroStartupException? Find(Exception? exception)
    {
        for (var current = exception; current is not null; current = current.InnerException)
        {
            if (current is TensorZeroStartupException startup)
            {
                return startup;
            }
            if (current is AggregateException { InnerExceptions.Count: 1 } aggregate)
            {
                return Find(aggregate.InnerExceptions[0]);
            }
        }
        return null;
    }
}
