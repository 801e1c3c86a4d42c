package io.legate.config;

/**
 * A field path built while walking a config tree ({@code static_resources.listeners[0].name}). Nodes
 * are linked to their parent, so a path costs one small object per step and becomes a string only
 * when an error is reported.
 */
final class FieldPath {
  static final FieldPath ROOT = new FieldPath(null, "", -1, null);

  private final FieldPath parent;
  private final String field;
  private final int index;
  private final String key;

  private FieldPath(FieldPath parent, String field, int index, String key) {
    this.parent = parent;
    this.field = field;
    this.index = index;
    this.key = key;
  }

  /** Returns a root path with the given text as its prefix (empty for the document root). */
  static FieldPath of(String prefix) {
    return prefix == null || prefix.isEmpty() ? ROOT : new FieldPath(null, prefix, -1, null);
  }

  /** Returns the path of a field of this message. */
  FieldPath field(String name) {
    return new FieldPath(this, name, -1, null);
  }

  /** Returns the path of an element of this list. */
  FieldPath index(int i) {
    return new FieldPath(this, null, i, null);
  }

  /** Returns the path of an entry of this map. */
  FieldPath key(String k) {
    return new FieldPath(this, null, -1, k);
  }

  @Override
  public String toString() {
    StringBuilder sb = new StringBuilder();
    append(sb);
    return sb.toString();
  }

  private void append(StringBuilder sb) {
    if (parent != null) {
      parent.append(sb);
    }
    if (field != null) {
      if (sb.length() > 0 && !field.isEmpty()) {
        sb.append('.');
      }
      sb.append(field);
    } else if (key != null) {
      sb.append("[\"").append(key).append("\"]");
    } else if (index >= 0) {
      sb.append('[').append(index).append(']');
    }
  }
}
