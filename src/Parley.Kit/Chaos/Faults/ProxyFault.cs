using Parley.Kit.Chaos.Proxy;

namespace Parley.Kit.Chaos.Faults;

/// <summary>Network faults on a <see cref="FaultProxy"/>: <see cref="LinkFaults"/> in one or both directions, or the proxy down.</summary>
public sealed class ProxyFault : IFault
{
    private readonly FaultProxy _proxy;
    private readonly FaultDirection _direction;
    private readonly LinkFaults? _faults;

    private ProxyFault(FaultProxy proxy, FaultDirection direction, LinkFaults? faults)
    {
        _proxy = proxy;
        _direction = direction;
        _faults = faults;
    }

    public string Description => _faults is null ? $"{_proxy.Name} proxy down" : $"{_proxy.Name} proxy {_direction}: {_faults}";

    public static ProxyFault Link(FaultProxy proxy, FaultDirection direction, LinkFaults faults) => new(proxy, direction, faults);

    /// <summary>A partition: nothing passes either way, data is held, connections hang (iptables DROP, as the seed does it).</summary>
    public static ProxyFault Partition(FaultProxy proxy) => new(proxy, FaultDirection.Both, LinkFaults.Partitioned);

    /// <summary>The port refuses connections and open ones are closed.</summary>
    public static ProxyFault Down(FaultProxy proxy) => new(proxy, FaultDirection.Both, null);

    public Task InjectAsync(CancellationToken ct = default)
    {
        if (_faults is null)
            _proxy.SetDown(true);
        else
        {
            _proxy.Set(_direction, _faults);
            if (_faults.Timeout is not null || _faults.Hold)
                _proxy.CloseAll(reset: false); // a partition also cuts what was connected, so clients reconnect into the hole
        }
        return Task.CompletedTask;
    }

    public Task RemoveAsync(CancellationToken ct = default)
    {
        if (_faults is null) _proxy.SetDown(false);
        else _proxy.Set(_direction, LinkFaults.None);
        return Task.CompletedTask;
    }
}
