package io.legate.http;

/** Envoy's request path normalisation: RFC 3986 dot segments, slash merging, escaped slashes. */
public final class PathNormalizer {
  private PathNormalizer() {}

  /** Removes dot segments from a path (query excluded); returns null when the path escapes the root. */
  public static String removeDotSegments(String path) {
    if (path.indexOf('.') < 0) {
      return path;
    }
    String[] parts = path.split("/", -1);
    java.util.ArrayDeque<String> out = new java.util.ArrayDeque<>();
    for (int i = 1; i < parts.length; i++) {
      String p = parts[i];
      boolean last = i == parts.length - 1;
      if (p.equals(".")) {
        if (last) {
          out.addLast("");
        }
      } else if (p.equals("..")) {
        if (!out.isEmpty()) {
          out.removeLast();
        }
        if (last) {
          out.addLast("");
        }
      } else {
        out.addLast(p);
      }
    }
    StringBuilder sb = new StringBuilder();
    for (String p : out) {
      sb.append('/').append(p);
    }
    return sb.length() == 0 ? "/" : sb.toString();
  }

  /** Collapses runs of slashes into one. */
  public static String mergeSlashes(String path) {
    if (!path.contains("//")) {
      return path;
    }
    StringBuilder sb = new StringBuilder(path.length());
    char prev = 0;
    for (int i = 0; i < path.length(); i++) {
      char c = path.charAt(i);
      if (c == '/' && prev == '/') {
        continue;
      }
      sb.append(c);
      prev = c;
    }
    return sb.toString();
  }

  /** Returns whether the path holds %2F, %2f, %5C or %5c. */
  public static boolean hasEscapedSlashes(String path) {
    int i = path.indexOf('%');
    while (i >= 0 && i + 2 < path.length()) {
      char a = path.charAt(i + 1);
      char b = Character.toLowerCase(path.charAt(i + 2));
      if ((a == '2' && b == 'f') || (a == '5' && b == 'c')) {
        return true;
      }
      i = path.indexOf('%', i + 1);
    }
    return false;
  }

  /** Replaces %2F/%5C (any case) with / and \. */
  public static String unescapeSlashes(String path) {
    return path.replaceAll("(?i)%2f", "/").replaceAll("(?i)%5c", "\\\\");
  }
}
