using System.Collections;

namespace Courier.Internal;

/// <summary>
/// A first-in-first-out queue whose items can also be removed by id in O(1): the waiting line behind a coordinator's cap,
/// from which a cancelled item leaves without waiting for its turn. Used by one actor only: not thread-safe.
/// </summary>
internal sealed class IndexedQueue<T> : IEnumerable<T>
{
    private readonly LinkedList<T> _items = new();
    private readonly Dictionary<long, LinkedListNode<T>> _byId = new();

    public int Count => _items.Count;

    public bool Contains(long id) => _byId.ContainsKey(id);

    public bool TryGetValue(long id, out T item)
    {
        if (_byId.TryGetValue(id, out var node))
        {
            item = node.Value;
            return true;
        }
        item = default!;
        return false;
    }

    public void Enqueue(long id, T item) => _byId.Add(id, _items.AddLast(item));

    public bool TryRemove(long id, out T item)
    {
        if (_byId.Remove(id, out var node))
        {
            _items.Remove(node);
            item = node.Value;
            return true;
        }
        item = default!;
        return false;
    }

    public bool TryDequeue(Func<T, long> idOf, out T item)
    {
        if (_items.First is not { } first)
        {
            item = default!;
            return false;
        }
        _items.RemoveFirst();
        _byId.Remove(idOf(first.Value));
        item = first.Value;
        return true;
    }

    public void Clear()
    {
        _items.Clear();
        _byId.Clear();
    }

    public IEnumerator<T> GetEnumerator() => _items.GetEnumerator();

    IEnumerator IEnumerable.GetEnumerator() => GetEnumerator();
}
