package io.legate.router;

import io.netty.handler.codec.http2.Http2Headers;
import io.netty.util.AsciiString;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * A virtual host with an index over its routes: exact paths in hash maps, prefixes in tries (one
 * case-sensitive, one lowercased), and routes that cannot be indexed (regex) in an always-evaluated
 * list. Candidates are evaluated in config order, so the first full match wins as in Envoy.
 */
final class VirtualHost {
  enum TlsRequirement {
    NONE,
    EXTERNAL_ONLY,
    ALL
  }

  private static final AsciiString X_ENVOY_INTERNAL = AsciiString.cached("x-envoy-internal");
  private static final int[] NONE_INT = new int[0];

  final String name;
  private final RouteEntry[] entries;
  private final TlsRequirement tls;
  private final Route sslRedirectRoute;
  private final boolean ignorePathParameters;
  private final boolean anyCaseInsensitive;
  private final Map<String, int[]> exactCs = new HashMap<>();
  private final Map<String, int[]> exactCi = new HashMap<>();
  private final Trie trieCs = new Trie();
  private final Trie trieCi = new Trie();
  private final int[] always;
  /** The connect_matcher routes, in config order: the only ones a CONNECT request can match. */
  private final int[] connect;

  VirtualHost(String name, List<RouteEntry> routes, TlsRequirement tls, boolean ignorePathParameters) {
    this.name = name;
    this.entries = routes.toArray(new RouteEntry[0]);
    this.tls = tls;
    this.ignorePathParameters = ignorePathParameters;
    this.sslRedirectRoute =
        new Route("", name, RedirectAction.sslRedirect(), HeaderMutations.EMPTY, HeaderMutations.EMPTY);
    List<Integer> alwaysList = new ArrayList<>();
    List<Integer> connectList = new ArrayList<>();
    boolean ci = false;
    for (RouteEntry e : entries) {
      ci |= !e.caseSensitive;
      switch (e.kind) {
        case PATH -> add(e.caseSensitive ? exactCs : exactCi, e.pathValue, e.index);
        case PREFIX, PATH_SEPARATED_PREFIX -> (e.caseSensitive ? trieCs : trieCi).add(e.pathValue, e.index);
        case REGEX -> alwaysList.add(e.index);
        case CONNECT -> connectList.add(e.index);
      }
    }
    this.anyCaseInsensitive = ci;
    this.always = alwaysList.stream().mapToInt(Integer::intValue).toArray();
    this.connect = connectList.stream().mapToInt(Integer::intValue).toArray();
  }

  private static void add(Map<String, int[]> map, String key, int index) {
    int[] old = map.getOrDefault(key, NONE_INT);
    int[] n = Arrays.copyOf(old, old.length + 1);
    n[old.length] = index;
    map.put(key, n);
  }

  /** Returns the first matching route, or null. counter (may be null) counts evaluated routes. */
  Route route(Http2Headers request, long random, int[] counter) {
    if (tls != TlsRequirement.NONE) {
      CharSequence xfp = request.get(RedirectAction.X_FORWARDED_PROTO);
      if (xfp == null) {
        xfp = request.scheme();
      }
      boolean https = xfp != null && "https".contentEquals(xfp);
      if (!https) {
        if (tls == TlsRequirement.ALL) {
          return sslRedirectRoute;
        }
        CharSequence internal = request.get(X_ENVOY_INTERNAL);
        if (internal == null || !"true".contentEquals(internal)) {
          return sslRedirectRoute;
        }
      }
    }
    CharSequence p = request.path();
    if (p == null) {
      CharSequence method = request.method();
      if (method == null || !AsciiString.contentEquals(method, "CONNECT")) {
        return null;
      }
      for (int i : connect) {
        if (counter != null) {
          counter[0]++;
        }
        if (entries[i].matches(request, "", "", null, random)) {
          return entries[i].route;
        }
      }
      return null;
    }
    String full = p.toString();
    int end = RouteEntry.pathEnd(full);
    String pathOnly = full.substring(0, end);
    String query = null;
    if (end < full.length() && full.charAt(end) == '?') {
      int hash = full.indexOf('#', end);
      query = full.substring(end + 1, hash < 0 ? full.length() : hash);
    }
    if (ignorePathParameters) {
      int semi = pathOnly.indexOf(';');
      if (semi >= 0) {
        pathOnly = pathOnly.substring(0, semi);
      }
    }
    String lower = anyCaseInsensitive ? RouteEntry.lower(pathOnly) : pathOnly;

    Candidates c = new Candidates();
    int[] hit = exactCs.get(pathOnly);
    if (hit != null) {
      c.addAll(hit);
    }
    if (anyCaseInsensitive) {
      hit = exactCi.get(lower);
      if (hit != null) {
        c.addAll(hit);
      }
    }
    trieCs.collect(pathOnly, c);
    if (anyCaseInsensitive) {
      trieCi.collect(lower, c);
    }
    c.addAll(always);
    Arrays.sort(c.a, 0, c.n);
    for (int k = 0; k < c.n; k++) {
      RouteEntry e = entries[c.a[k]];
      if (counter != null) {
        counter[0]++;
      }
      if (e.matches(request, pathOnly, lower, query, random)) {
        return e.route;
      }
    }
    return null;
  }

  /** Candidate route indices gathered for one request. */
  private static final class Candidates {
    int[] a = new int[8];
    int n;

    void addAll(int[] xs) {
      if (n + xs.length > a.length) {
        a = Arrays.copyOf(a, Math.max(a.length * 2, n + xs.length));
      }
      System.arraycopy(xs, 0, a, n, xs.length);
      n += xs.length;
    }
  }

  /** A character trie whose nodes hold the indices of routes whose prefix ends there. */
  private static final class Trie {
    private final Node root = new Node();

    void add(String prefix, int index) {
      Node n = root;
      for (int i = 0; i < prefix.length(); i++) {
        n = n.children.computeIfAbsent(prefix.charAt(i), c -> new Node());
      }
      n.routes = Arrays.copyOf(n.routes, n.routes.length + 1);
      n.routes[n.routes.length - 1] = index;
    }

    void collect(String path, Candidates c) {
      Node node = root;
      int i = 0;
      while (true) {
        if (node.routes.length > 0) {
          c.addAll(node.routes);
        }
        if (i == path.length() || node.children.isEmpty()) {
          break;
        }
        node = node.children.get(path.charAt(i++));
        if (node == null) {
          break;
        }
      }
    }
  }

  private static final class Node {
    final Map<Character, Node> children = new HashMap<>();
    int[] routes = NONE_INT;
  }
}
