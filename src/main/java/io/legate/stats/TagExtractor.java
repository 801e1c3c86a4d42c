package io.legate.stats;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.concurrent.ConcurrentHashMap;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Splits a flat stat name into a tag-extracted name and tags, with Envoy's default tag extractors
 * ({@code source/common/config/well_known_names.cc}): {@code cluster.backend.upstream_rq_2xx} becomes
 * {@code cluster.upstream_rq_xx} with {@code envoy.response_code_class=2} and {@code
 * envoy.cluster_name=backend}.
 *
 * <p>Extractors are applied as Envoy's {@code TagProducerImpl} applies them: first those without a
 * leading-token prefix, then those whose prefix equals the first token of the name, each in
 * declaration order (regex extractors before token extractors). Every extractor sees the full name;
 * the characters they claim are removed at the end. The result is cached per name, so a scrape runs
 * the regexes once per stat for the life of the process. Instances are thread safe.
 */
public final class TagExtractor {
  /** A tag name and value, e.g. {@code envoy.cluster_name=backend}. */
  public record Tag(String name, String value) {
    public Tag {
      Objects.requireNonNull(name, "name");
      Objects.requireNonNull(value, "value");
    }
  }

  /** The result of extraction: the name without tag values, and the tags in extraction order. */
  public record TaggedName(String tagExtractedName, List<Tag> tags) {
    public TaggedName {
      Objects.requireNonNull(tagExtractedName, "tagExtractedName");
      tags = List.copyOf(tags);
    }
  }

  /**
   * A {@code stats_tags} entry: a custom regex, a fixed value added to every stat, or the default
   * extractor(s) of a well-known tag name.
   */
  public static final class Spec {
    private final List<Extractor> extractors;
    private final Tag fixed;

    private Spec(List<Extractor> extractors, Tag fixed) {
      this.extractors = extractors;
      this.fixed = fixed;
    }

    /** Returns a regex extractor (group 1 removed from the name, group 2 or 1 the value). */
    public static Spec regex(String name, String regex, String path) {
      try {
        return new Spec(List.of(new RegexExtractor(name, regex, "", "")), null);
      } catch (java.util.regex.PatternSyntaxException e) {
        throw new io.legate.config.ConfigException(path, "invalid regex '" + regex + "': " + e.getDescription());
      }
    }

    /** Returns a tag with a fixed value, added to every stat. */
    public static Spec fixed(String name, String value) {
      return new Spec(List.of(), new Tag(name, value));
    }

    /** Returns Envoy's default extractor(s) for this tag name. */
    public static Spec byDefaultName(String name) {
      List<Extractor> out = new ArrayList<>();
      for (Extractor e : DEFAULT_LIST) {
        if (e.name.equals(name)) {
          out.add(e);
        }
      }
      return new Spec(List.copyOf(out), null);
    }
  }

  private static final String TAG_VALUE = "[^\\.]+";
  private static final List<Extractor> DEFAULT_LIST = defaultExtractors();
  private static final TagExtractor DEFAULTS = new TagExtractor(DEFAULT_LIST, List.of());

  private final List<Tag> fixedTags;
  private final List<Extractor> withoutPrefix;
  private final Map<String, List<Extractor>> byPrefix;
  private final ConcurrentHashMap<String, TaggedName> cache = new ConcurrentHashMap<>();

  private TagExtractor(List<Extractor> extractors, List<Tag> fixedTags) {
    this.fixedTags = List.copyOf(fixedTags);
    List<Extractor> without = new ArrayList<>();
    Map<String, List<Extractor>> prefixed = new HashMap<>();
    for (Extractor e : extractors) {
      if (e.prefix.isEmpty()) {
        without.add(e);
      } else {
        prefixed.computeIfAbsent(e.prefix, k -> new ArrayList<>()).add(e);
      }
    }
    this.withoutPrefix = List.copyOf(without);
    Map<String, List<Extractor>> frozen = new HashMap<>();
    prefixed.forEach((k, v) -> frozen.put(k, List.copyOf(v)));
    this.byPrefix = Map.copyOf(frozen);
  }

  /**
   * Returns an extractor with the custom {@code specs} first, then (when {@code useDefaults})
   * Envoy's defaults whose tag names the specs do not already use, as Envoy's {@code
   * TagProducerImpl} orders them.
   */
  public static TagExtractor of(List<Spec> specs, boolean useDefaults) {
    List<Extractor> extractors = new ArrayList<>();
    List<Tag> fixed = new ArrayList<>();
    java.util.Set<String> names = new java.util.HashSet<>();
    for (Spec s : specs) {
      extractors.addAll(s.extractors);
      if (s.fixed != null) {
        fixed.add(s.fixed);
        names.add(s.fixed.name());
      }
      for (Extractor e : s.extractors) {
        names.add(e.name);
      }
    }
    if (useDefaults) {
      for (Extractor e : DEFAULT_LIST) {
        if (!names.contains(e.name)) {
          extractors.add(e);
        }
      }
    }
    return new TagExtractor(extractors, fixed);
  }

  /** Returns whether {@code name} is the tag name of one of Envoy's default extractors. */
  public static boolean isDefaultName(String name) {
    for (Extractor e : DEFAULT_LIST) {
      if (e.name.equals(name)) {
        return true;
      }
    }
    return false;
  }

  /** Returns the shared extractor with Envoy's default tag extractors. */
  public static TagExtractor defaults() {
    return DEFAULTS;
  }

  /** Returns the tag-extracted name and tags of {@code statName}, computed once per name. */
  public TaggedName extract(String statName) {
    TaggedName cached = cache.get(statName);
    if (cached != null) {
      return cached;
    }
    return cache.computeIfAbsent(statName, this::compute);
  }

  private TaggedName compute(String name) {
    boolean[] remove = new boolean[name.length()];
    List<Tag> tags = new ArrayList<>(fixedTags);
    List<String> seen = new ArrayList<>(2);
    Context context = new Context(name);
    for (Extractor e : withoutPrefix) {
      apply(e, context, tags, remove, seen);
    }
    int dot = name.indexOf('.');
    if (dot >= 0) {
      List<Extractor> list = byPrefix.get(name.substring(0, dot));
      if (list != null) {
        for (Extractor e : list) {
          apply(e, context, tags, remove, seen);
        }
      }
    }
    StringBuilder out = new StringBuilder(name.length());
    for (int i = 0; i < name.length(); i++) {
      if (!remove[i]) {
        out.append(name.charAt(i));
      }
    }
    return new TaggedName(out.toString(), tags);
  }

  private static void apply(
      Extractor e, Context context, List<Tag> tags, boolean[] remove, List<String> seen) {
    // Envoy skips a second extractor of the same tag name once one has matched.
    if (seen.contains(e.name)) {
      return;
    }
    if (e.extract(context, tags, remove)) {
      seen.add(e.name);
    }
  }

  private static final class Context {
    final String name;
    String[] tokens;

    Context(String name) {
      this.name = name;
    }

    String[] tokens() {
      if (tokens == null) {
        tokens = name.split("\\.", -1);
      }
      return tokens;
    }
  }

  private abstract static class Extractor {
    final String name;
    final String prefix;

    Extractor(String name, String prefix) {
      this.name = name;
      this.prefix = prefix;
    }

    abstract boolean extract(Context context, List<Tag> tags, boolean[] remove);
  }

  /** Envoy's {@code TagExtractorRe2Impl}: group 1 is removed, group 2 (or 1) is the value. */
  private static final class RegexExtractor extends Extractor {
    private final Pattern pattern;
    private final String substr;
    private final String negativeMatch;

    RegexExtractor(String name, String regex, String substr, String negativeMatch) {
      super(name, regexPrefix(regex));
      this.pattern = Pattern.compile(regex);
      this.substr = substr;
      this.negativeMatch = negativeMatch;
    }

    @Override
    boolean extract(Context context, List<Tag> tags, boolean[] remove) {
      String statName = context.name;
      if (!substr.isEmpty() && !statName.contains(substr)) {
        return false;
      }
      Matcher m = pattern.matcher(statName);
      if (!m.find() || m.groupCount() < 1 || m.start(1) < 0 || m.start(1) == m.end(1)) {
        return false;
      }
      int valueGroup = m.groupCount() >= 2 && m.start(2) >= 0 && m.end(2) > m.start(2) ? 2 : 1;
      String value = m.group(valueGroup);
      if (!negativeMatch.isEmpty() && negativeMatch.equals(value)) {
        return false;
      }
      tags.add(new Tag(name, value));
      for (int i = m.start(1); i < m.end(1); i++) {
        remove[i] = true;
      }
      return true;
    }

    /** Envoy's {@code extractRegexPrefix}: {@code ^word\.} or {@code ^word(?=\.)} gives "word". */
    static String regexPrefix(String regex) {
      if (!regex.startsWith("^")) {
        return "";
      }
      for (int i = 1; i < regex.length(); i++) {
        char c = regex.charAt(i);
        if (!Character.isLetterOrDigit(c) && c != '_') {
          if (i > 1) {
            boolean last = i == regex.length() - 1;
            String rest = regex.substring(i);
            if ((!last && (rest.startsWith("\\.") || rest.startsWith("(?=\\.)")))
                || (last && c == '$')) {
              return regex.substring(1, i);
            }
          }
          return "";
        }
      }
      return "";
    }
  }

  /**
   * Envoy's {@code TagExtractorTokensImpl}: a dot-separated pattern where {@code $} is the value,
   * {@code *} matches one token and {@code **} any number (at least one when last).
   */
  private static final class TokenExtractor extends Extractor {
    private final String[] pattern;
    private final int matchIndex;

    TokenExtractor(String name, String tokens) {
      super(name, tokenPrefix(tokens));
      this.pattern = tokens.split("\\.", -1);
      int idx = -1;
      for (int i = 0; i < pattern.length; i++) {
        if (pattern[i].equals("$")) {
          idx = i;
          break;
        }
      }
      if (idx < 0) {
        throw new IllegalArgumentException("no $ in token pattern " + tokens);
      }
      this.matchIndex = idx;
    }

    private static String tokenPrefix(String tokens) {
      int dot = tokens.indexOf('.');
      String first = dot < 0 ? tokens : tokens.substring(0, dot);
      return first.equals("$") || first.equals("*") || first.equals("**") ? "" : first;
    }

    @Override
    boolean extract(Context context, List<Tag> tags, boolean[] remove) {
      String[] input = context.tokens();
      int[] found = new int[] {0, input.length}; // start char, matched token index
      if (!search(input, 0, 0, 0, found)) {
        return false;
      }
      int start = found[0];
      String value = input[found[1]];
      int end = start + value.length();
      if (found[1] < input.length - 1) {
        end++;
      } else if (start > 0) {
        start--;
      }
      tags.add(new Tag(name, value));
      for (int i = start; i < end; i++) {
        remove[i] = true;
      }
      return true;
    }

    private boolean search(String[] input, int in, int pat, int charIndex, int[] found) {
      for (; in < input.length && pat < pattern.length; in++, pat++) {
        if (pat == matchIndex) {
          found[0] = charIndex;
          found[1] = in;
          charIndex += input[in].length() + 1;
          continue;
        }
        String expected = pattern[pat];
        if (expected.equals("**")) {
          if (pat == pattern.length - 1) {
            return true;
          }
          pat++;
          for (; in < input.length; in++) {
            if (search(input, in, pat, charIndex, found)) {
              return true;
            }
            charIndex += input[in].length() + 1;
          }
          return false;
        }
        if (!expected.equals("*") && !expected.equals(input[in])) {
          return false;
        }
        charIndex += input[in].length() + 1;
      }
      return pat == pattern.length && in == input.length;
    }
  }

  private static String expand(String regex) {
    return regex
        .replace("<ADDRESS>", "(?:(?:\\d{1,3}\\.\\d{1,3}\\.\\d{1,3}\\.\\d{1,3}|\\[[a-fA-F_\\d]+\\])_\\d+)")
        .replace("<CIPHER>", "[\\w-]+")
        .replace("<TLS_VERSION>", "TLSv\\d\\.\\d")
        .replace("<TAG_VALUE>", TAG_VALUE)
        .replace("<ROUTE_CONFIG_NAME>", "[\\w\\-\\.]+")
        .replace("<LISTENER_OR_CLUSTER_WITH_NAME>", "(?:listener|cluster)\\..*?");
  }

  private static Extractor re(String name, String regex, String substr) {
    return new RegexExtractor(name, expand(regex), substr, "");
  }

  private static Extractor tokens(String name, String pattern) {
    return new TokenExtractor(name, pattern);
  }

  private static List<Extractor> defaultExtractors() {
    List<Extractor> regex = List.of(
        re("envoy.response_code", "_rq(_(\\d{3}))$", "_rq_"),
        re("envoy.response_code_class", "_rq_((\\d))xx$", "_rq_"),
        re("envoy.dynamo_partition_id",
            "^http\\.<TAG_VALUE>\\.dynamodb\\.table\\.<TAG_VALUE>\\.capacity\\.<TAG_VALUE>"
                + "(\\.__partition_id=(\\w{7}))$",
            ".dynamodb.table."),
        re("envoy.dynamo_operation",
            "^http\\.<TAG_VALUE>\\.dynamodb.(?:operation|table\\.<TAG_VALUE>\\.capacity)"
                + "(\\.(<TAG_VALUE>))(?:\\.|$)",
            ".dynamodb."),
        re("envoy.dynamo_table",
            "^http\\.<TAG_VALUE>\\.dynamodb.(?:table|error)\\.((<TAG_VALUE>)\\.)", ".dynamodb."),
        re("envoy.ssl_cipher", "^listener\\..*?\\.ssl\\.ciphers(\\.(<CIPHER>))$", ".ssl.ciphers."),
        re("envoy.ssl_curve",
            "^<LISTENER_OR_CLUSTER_WITH_NAME>\\.ssl\\.curves(\\.(<CIPHER>))$", ".ssl.curves."),
        re("envoy.ssl_sigalg",
            "^<LISTENER_OR_CLUSTER_WITH_NAME>\\.ssl\\.sigalgs(\\.(<CIPHER>))$", ".ssl.sigalgs."),
        re("envoy.ssl_version",
            "^<LISTENER_OR_CLUSTER_WITH_NAME>\\.ssl\\.versions(\\.(<TLS_VERSION>))$",
            ".ssl.versions."),
        re("cipher_suite", "^cluster\\.<TAG_VALUE>\\.ssl\\.ciphers(\\.(<CIPHER>))$",
            ".ssl.ciphers."),
        re("envoy.http_conn_manager_prefix", "^listener\\..*?\\.http\\.((<TAG_VALUE>)\\.)", ".http."),
        re("envoy.worker_id",
            "^(?:listener\\.(?:<ADDRESS>|<TAG_VALUE>)\\.|server\\.|listener_manager\\.)"
                + "worker_((\\d+)\\.)",
            ""),
        new RegexExtractor("envoy.listener_address",
            expand("^listener\\.((<ADDRESS>|<TAG_VALUE>)\\.)"), "", "admin"),
        re("envoy.rds_route_config",
            "^http\\.<TAG_VALUE>\\.rds\\.((<ROUTE_CONFIG_NAME>)\\.)\\w+?$", ".rds."));
    List<Extractor> tokenized = List.of(
        tokens("envoy.mongo_callsite", "mongo.*.collection.*.callsite.$.query.**"),
        tokens("envoy.mongo_collection", "mongo.*.collection.$.**.query.*"),
        tokens("envoy.mongo_cmd", "mongo.*.cmd.$.**"),
        tokens("envoy.grpc_bridge_method", "cluster.*.grpc.*.$.**"),
        tokens("envoy.http_user_agent", "http.*.user_agent.$.**"),
        tokens("envoy.virtual_cluster", "vhost.*.vcluster.$.**"),
        tokens("envoy.fault_downstream_cluster", "http.*.fault.$.**"),
        tokens("envoy.grpc_bridge_service", "cluster.*.grpc.$.**"),
        tokens("envoy.tcp_prefix", "tcp.$.**"),
        tokens("envoy.udp_prefix", "udp.$.**"),
        tokens("envoy.clientssl_prefix", "auth.clientssl.$.**"),
        tokens("envoy.ratelimit_prefix", "ratelimit.$.**"),
        tokens("envoy.cluster_name", "cluster.$.**"),
        tokens("envoy.ext_authz_prefix", "cluster.*.ext_authz.$.**"),
        tokens("envoy.ext_authz_prefix", "http.*.ext_authz.$.**"),
        tokens("envoy.http_conn_manager_prefix", "http.$.**"),
        tokens("envoy.virtual_host", "vhost.$.**"),
        tokens("envoy.mongo_prefix", "mongo.$.**"),
        tokens("envoy.route", "vhost.*.route.$.**"),
        tokens("envoy.thrift_prefix", "thrift.$.**"),
        tokens("envoy.redis_prefix", "redis.$.**"),
        tokens("envoy.local_http_ratelimit_prefix", "$.http_local_rate_limit.**"),
        tokens("envoy.local_network_ratelimit_prefix", "local_rate_limit.$.**"),
        tokens("envoy.local_listener_ratelimit_prefix", "listener_local_ratelimit.$.**"),
        tokens("envoy.dns_filter_prefix", "dns_filter.$.**"));
    List<Extractor> all = new ArrayList<>(regex);
    all.addAll(tokenized);
    return all;
  }
}
