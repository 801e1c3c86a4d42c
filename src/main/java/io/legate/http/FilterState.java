package io.legate.http;

import java.util.HashMap;
import java.util.Map;

/**
 * The filter state of one stream (Envoy's {@code StreamInfo::FilterState}): named objects that
 * filters leave for later filters, the router ({@code hash_policy.filter_state}) and access logs.
 * Confined to the stream's worker; created on first use.
 */
public final class FilterState {
  /** An object in the filter state; its string form is what hashing and logging see. */
  public interface StateObject {
    /** Returns the object's string form (Envoy's {@code serializeAsString}), or null if it has none. */
    String serializeAsString();
  }

  /** An object a {@code hash_policy.filter_state} can hash (Envoy's {@code Hashable}). */
  public interface Hashable {
    /** Returns the object's hash. */
    long hash();
  }

  /** A plain string (Envoy's {@code StringAccessor}, factory {@code envoy.string}): not hashable. */
  public record StringObject(String value) implements StateObject {
    @Override
    public String serializeAsString() {
      return value;
    }
  }

  /**
   * A string that hashes as {@code xxHash64(value)} (Envoy's {@code HashableString}, factory {@code
   * envoy.hashable_string}).
   */
  public record HashableStringObject(String value) implements StateObject, Hashable {
    @Override
    public String serializeAsString() {
      return value;
    }

    @Override
    public long hash() {
      return io.legate.upstream.XxHash64.hash(value);
    }
  }

  private record Slot(StateObject object, boolean readOnly) {}

  private final Map<String, Slot> objects = new HashMap<>(4);

  /**
   * Stores {@code object} under {@code key}, replacing a mutable one; returns false (and changes
   * nothing) when the key holds a read-only object, which Envoy never replaces.
   */
  public boolean set(String key, StateObject object, boolean readOnly) {
    Slot old = objects.get(key);
    if (old != null && old.readOnly) {
      return false;
    }
    objects.put(key, new Slot(object, readOnly));
    return true;
  }

  /** Returns the object under {@code key}, or null. */
  public StateObject get(String key) {
    Slot s = objects.get(key);
    return s == null ? null : s.object;
  }
}
