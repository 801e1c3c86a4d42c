package io.legate.http.filters.jwtauthn;

import com.google.protobuf.Duration;
import io.envoyproxy.envoy.config.core.v3.HttpUri;
import io.envoyproxy.envoy.extensions.filters.http.jwt_authn.v3.JwtAuthentication;
import io.envoyproxy.envoy.extensions.filters.http.jwt_authn.v3.JwtClaimToHeader;
import io.envoyproxy.envoy.extensions.filters.http.jwt_authn.v3.JwtHeader;
import io.envoyproxy.envoy.extensions.filters.http.jwt_authn.v3.JwtProvider;
import io.envoyproxy.envoy.extensions.filters.http.jwt_authn.v3.JwtRequirement;
import io.envoyproxy.envoy.extensions.filters.http.jwt_authn.v3.RemoteJwks;
import io.envoyproxy.envoy.extensions.filters.http.jwt_authn.v3.RequirementRule;
import io.legate.config.ConfigException;
import io.legate.stats.Counter;
import io.legate.stats.StatsStore;
import io.legate.tls.DataSources;
import io.legate.upstream.ClusterManager;
import io.netty.handler.codec.http2.Http2Headers;
import io.netty.util.AsciiString;
import java.net.URI;
import java.net.URISyntaxException;
import java.nio.charset.StandardCharsets;
import java.text.ParseException;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.IdentityHashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.function.LongSupplier;

/**
 * The jwt_authn filter's immutable config, built once from {@code JwtAuthentication}: providers
 * with their key sources, rules and named requirements parsed into {@link Requirement} trees, and
 * the filter's stats ({@code http.<stat_prefix>.jwt_authn.[<prefix>.]allowed}, {@code denied},
 * {@code cors_preflight_bypassed}, {@code jwks_fetch_success}, {@code jwks_fetch_failed}).
 */
final class JwtAuthnConfig {
  static final long DEFAULT_CLOCK_SKEW_SECONDS = 60;
  static final long DEFAULT_CACHE_DURATION_MS = 600_000;
  static final long DEFAULT_FAILED_REFETCH_MS = 1_000;

  /** A rule: requests matching {@code match} need {@code requirement}. */
  record Rule(RuleMatch match, Requirement requirement) {}

  final String filterName;
  final Map<String, Provider> providers;
  final List<Rule> rules;
  final Map<String, Requirement> requirementMap;
  final boolean bypassCorsPreflight;
  final boolean stripFailureResponse;
  final Extractor allProviders;
  final List<AsciiString> payloadHeaders;
  final LongSupplier clockSeconds;
  final Counter allowed;
  final Counter denied;
  final Counter corsPreflightBypassed;
  private final IdentityHashMap<Requirement, List<JwksSource>> fetchable;

  private JwtAuthnConfig(
      String filterName,
      Map<String, Provider> providers,
      List<Rule> rules,
      Map<String, Requirement> requirementMap,
      boolean bypassCorsPreflight,
      boolean stripFailureResponse,
      LongSupplier clockSeconds,
      StatsStore.Scope scope) {
    this.filterName = filterName;
    this.providers = providers;
    this.rules = List.copyOf(rules);
    this.requirementMap = Map.copyOf(requirementMap);
    this.bypassCorsPreflight = bypassCorsPreflight;
    this.stripFailureResponse = stripFailureResponse;
    this.allProviders = Extractor.of(List.copyOf(providers.values()));
    List<AsciiString> ph = new ArrayList<>();
    for (Provider p : providers.values()) {
      if (p.forwardPayloadHeader() != null) {
        ph.add(p.forwardPayloadHeader());
      }
      for (Provider.ClaimToHeader c : p.claimToHeaders()) {
        ph.add(c.header());
      }
    }
    this.payloadHeaders = List.copyOf(ph);
    this.clockSeconds = clockSeconds;
    this.allowed = scope.counter("allowed");
    this.denied = scope.counter("denied");
    this.corsPreflightBypassed = scope.counter("cors_preflight_bypassed");
    this.fetchable = new IdentityHashMap<>();
    for (Rule r : rules) {
      indexSources(r.requirement());
    }
    requirementMap.values().forEach(this::indexSources);
  }

  private void indexSources(Requirement r) {
    Set<JwksSource> all = new HashSet<>();
    r.sources(all);
    List<JwksSource> remote = new ArrayList<>();
    for (JwksSource s : all) {
      if (s instanceof RemoteJwksSource) {
        remote.add(s);
      }
    }
    fetchable.put(r, List.copyOf(remote));
  }

  /** Returns the remote key sources a requirement may need. */
  List<JwksSource> remoteSources(Requirement r) {
    List<JwksSource> l = fetchable.get(r);
    return l == null ? List.of() : l;
  }

  /** Returns the requirement of the first rule matching the request, or null. */
  Requirement match(Http2Headers headers) {
    for (Rule r : rules) {
      if (r.match().matches(headers)) {
        return r.requirement();
      }
    }
    return null;
  }

  /**
   * Parses and validates the config; remote JWKS with {@code async_fetch} start fetching now.
   *
   * @param path the field path of the config, e.g. {@code ...http_filters[0].typed_config}
   */
  static JwtAuthnConfig parse(
      JwtAuthentication c,
      String path,
      String filterName,
      StatsStore.Scope hcmScope,
      ClusterManager clusters,
      LongSupplier clockSeconds,
      LongSupplier nanoTime) {
    if (c.hasFilterStateRules()) {
      throw new ConfigException(path + ".filter_state_rules", "filter_state_rules are not supported");
    }
    StatsStore.Scope scope =
        hcmScope.scope("jwt_authn." + (c.getStatPrefix().isEmpty() ? "" : c.getStatPrefix() + "."));
    Counter fetchSuccess = scope.counter("jwks_fetch_success");
    Counter fetchFailed = scope.counter("jwks_fetch_failed");
    Map<String, Provider> providers = new LinkedHashMap<>();
    List<RemoteJwksSource> toStart = new ArrayList<>();
    for (Map.Entry<String, JwtProvider> e : new TreeMap<>(c.getProvidersMap()).entrySet()) {
      String pp = path + ".providers[\"" + e.getKey() + "\"]";
      providers.put(
          e.getKey(),
          parseProvider(e.getKey(), e.getValue(), pp, clusters, fetchSuccess, fetchFailed, nanoTime, toStart));
    }
    Parser parser = new Parser(providers);
    Map<String, Requirement> named = new HashMap<>();
    for (Map.Entry<String, JwtRequirement> e : new TreeMap<>(c.getRequirementMapMap()).entrySet()) {
      named.put(e.getKey(), parser.requirement(e.getValue(), path + ".requirement_map[\"" + e.getKey() + "\"]"));
    }
    List<Rule> rules = new ArrayList<>();
    for (int i = 0; i < c.getRulesCount(); i++) {
      RequirementRule r = c.getRules(i);
      String rp = path + ".rules[" + i + "]";
      if (!r.hasMatch()) {
        throw new ConfigException(rp + ".match", "is required");
      }
      RuleMatch m = RuleMatch.parse(r.getMatch(), rp + ".match");
      Requirement req;
      switch (r.getRequirementTypeCase()) {
        case REQUIRES -> req = parser.requirement(r.getRequires(), rp + ".requires");
        case REQUIREMENT_NAME -> {
          req = named.get(r.getRequirementName());
          if (req == null) {
            throw new ConfigException(
                rp + ".requirement_name",
                "Wrong requirement_name: " + r.getRequirementName() + ". It should be one of ["
                    + String.join(",", new TreeMap<>(named).keySet()) + "]");
          }
        }
        default -> req = new Requirement.AllowAll();
      }
      rules.add(new Rule(m, req));
    }
    JwtAuthnConfig config =
        new JwtAuthnConfig(filterName, providers, rules, named, c.getBypassCorsPreflight(),
            c.getStripFailureResponse(), clockSeconds, scope);
    toStart.forEach(RemoteJwksSource::startBackground);
    return config;
  }

  private static Provider parseProvider(
      String name,
      JwtProvider p,
      String path,
      ClusterManager clusters,
      Counter fetchSuccess,
      Counter fetchFailed,
      LongSupplier nanoTime,
      List<RemoteJwksSource> toStart) {
    if (p.hasSubjects()) {
      throw new ConfigException(path + ".subjects", "subjects are not supported");
    }
    if (p.hasMaxLifetime()) {
      throw new ConfigException(path + ".max_lifetime", "max_lifetime is not supported");
    }
    Set<String> audiences = new HashSet<>();
    for (String a : p.getAudiencesList()) {
      audiences.add(Provider.sanitizeAudience(a));
    }
    List<Extractor.Location> locations = new ArrayList<>();
    for (int i = 0; i < p.getFromHeadersCount(); i++) {
      JwtHeader h = p.getFromHeaders(i);
      if (h.getName().isEmpty()) {
        throw new ConfigException(path + ".from_headers[" + i + "].name", "must not be empty");
      }
      locations.add(new Extractor.HeaderLocation(AsciiString.of(h.getName().toLowerCase(Locale.ROOT)), h.getValuePrefix()));
    }
    for (String q : p.getFromParamsList()) {
      locations.add(new Extractor.ParamLocation(q));
    }
    for (String ck : p.getFromCookiesList()) {
      locations.add(new Extractor.CookieLocation(ck));
    }
    if (locations.isEmpty()) {
      locations.add(new Extractor.HeaderLocation(Extractor.AUTHORIZATION, Extractor.BEARER));
      locations.add(new Extractor.ParamLocation(Extractor.ACCESS_TOKEN));
    }
    List<Provider.ClaimToHeader> claims = new ArrayList<>();
    for (int i = 0; i < p.getClaimToHeadersCount(); i++) {
      JwtClaimToHeader ch = p.getClaimToHeaders(i);
      String cp = path + ".claim_to_headers[" + i + "]";
      if (ch.getHeaderName().isEmpty()) {
        throw new ConfigException(cp + ".header_name", "must not be empty");
      }
      if (ch.getClaimName().isEmpty()) {
        throw new ConfigException(cp + ".claim_name", "must not be empty");
      }
      claims.add(new Provider.ClaimToHeader(
          AsciiString.of(ch.getHeaderName().toLowerCase(Locale.ROOT)), List.of(ch.getClaimName().split("\\.", -1))));
    }
    JwksSource jwks;
    switch (p.getJwksSourceSpecifierCase()) {
      case LOCAL_JWKS -> {
        String json = new String(DataSources.read(p.getLocalJwks(), path + ".local_jwks"), StandardCharsets.UTF_8);
        try {
          jwks = new JwksSource.Fixed(JwksKeys.parse(json));
        } catch (ParseException e) {
          throw new ConfigException(path + ".local_jwks", "invalid JWKS: " + e.getMessage());
        }
      }
      case REMOTE_JWKS -> jwks = parseRemote(p.getRemoteJwks(), path + ".remote_jwks", clusters,
          fetchSuccess, fetchFailed, nanoTime, toStart);
      default -> throw new ConfigException(path, "one of remote_jwks or local_jwks must be set");
    }
    String payloadHeader = p.getForwardPayloadHeader();
    return new Provider(
        name,
        p.getIssuer(),
        Set.copyOf(audiences),
        p.getRequireExpiration(),
        p.getClockSkewSeconds() > 0 ? p.getClockSkewSeconds() : DEFAULT_CLOCK_SKEW_SECONDS,
        p.getForward(),
        payloadHeader.isEmpty() ? null : AsciiString.of(payloadHeader.toLowerCase(Locale.ROOT)),
        p.getPadForwardPayloadHeader(),
        List.copyOf(locations),
        List.copyOf(claims),
        p.getClearRouteCache(),
        jwks,
        p.getPayloadInMetadata().isEmpty() ? null : p.getPayloadInMetadata());
  }

  private static JwksSource parseRemote(
      RemoteJwks r,
      String path,
      ClusterManager clusters,
      Counter fetchSuccess,
      Counter fetchFailed,
      LongSupplier nanoTime,
      List<RemoteJwksSource> toStart) {
    if (!r.hasHttpUri()) {
      throw new ConfigException(path + ".http_uri", "is required");
    }
    HttpUri u = r.getHttpUri();
    if (u.getCluster().isEmpty()) {
      throw new ConfigException(path + ".http_uri.cluster", "must not be empty");
    }
    if (clusters != null && !clusters.exists(u.getCluster())) {
      throw new ConfigException(path + ".http_uri.cluster", "unknown cluster '" + u.getCluster() + "'");
    }
    URI uri;
    try {
      uri = new URI(u.getUri());
    } catch (URISyntaxException e) {
      throw new ConfigException(path + ".http_uri.uri", "invalid URI '" + u.getUri() + "'");
    }
    if (uri.getRawAuthority() == null || uri.getScheme() == null) {
      throw new ConfigException(path + ".http_uri.uri", "invalid URI '" + u.getUri() + "'");
    }
    String p = uri.getRawPath() == null || uri.getRawPath().isEmpty() ? "/" : uri.getRawPath();
    if (uri.getRawQuery() != null) {
      p = p + "?" + uri.getRawQuery();
    }
    if (!u.hasTimeout()) {
      throw new ConfigException(path + ".http_uri.timeout", "is required");
    }
    long timeoutMs = millis(u.getTimeout());
    long cacheMs = r.hasCacheDuration() ? millis(r.getCacheDuration()) : DEFAULT_CACHE_DURATION_MS;
    boolean async = r.hasAsyncFetch();
    long refetchMs = async && r.getAsyncFetch().hasFailedRefetchDuration()
        ? millis(r.getAsyncFetch().getFailedRefetchDuration())
        : DEFAULT_FAILED_REFETCH_MS;
    RemoteJwksSource remote = new RemoteJwksSource(
        clusters, u.getCluster(), uri.getRawAuthority(), p, timeoutMs, cacheMs, async, refetchMs,
        fetchSuccess, fetchFailed, nanoTime);
    if (async) {
      toStart.add(remote);
    }
    return remote;
  }

  private static long millis(Duration d) {
    return d.getSeconds() * 1000 + d.getNanos() / 1_000_000;
  }

  /** Turns JwtRequirement protos into trees, sharing one extractor per provider. */
  private static final class Parser {
    private final Map<String, Provider> providers;
    private final Map<String, Extractor> extractors = new HashMap<>();
    private final List<Provider> all;
    private final Extractor allExtractor;

    Parser(Map<String, Provider> providers) {
      this.providers = providers;
      this.all = List.copyOf(providers.values());
      this.allExtractor = Extractor.of(all);
    }

    Requirement requirement(JwtRequirement r, String path) {
      switch (r.getRequiresTypeCase()) {
        case PROVIDER_NAME:
          return byProvider(r.getProviderName(), null, path + ".provider_name");
        case PROVIDER_AND_AUDIENCES: {
          Set<String> auds = new HashSet<>();
          for (String a : r.getProviderAndAudiences().getAudiencesList()) {
            auds.add(Provider.sanitizeAudience(a));
          }
          return byProvider(r.getProviderAndAudiences().getProviderName(), auds.isEmpty() ? null : Set.copyOf(auds),
              path + ".provider_and_audiences.provider_name");
        }
        case REQUIRES_ANY: {
          List<Requirement> children = new ArrayList<>();
          boolean missing = false;
          boolean failed = false;
          List<JwtRequirement> list = r.getRequiresAny().getRequirementsList();
          for (int i = 0; i < list.size(); i++) {
            JwtRequirement c = list.get(i);
            switch (c.getRequiresTypeCase()) {
              case ALLOW_MISSING -> missing = true;
              case ALLOW_MISSING_OR_FAILED -> failed = true;
              default -> children.add(requirement(c, path + ".requires_any.requirements[" + i + "]"));
            }
          }
          if (children.isEmpty() && (missing || failed)) {
            children.add(new Requirement.AnyProvider(all, allExtractor, failed));
          }
          return new Requirement.Any(List.copyOf(children), missing, failed);
        }
        case REQUIRES_ALL: {
          List<Requirement> children = new ArrayList<>();
          List<JwtRequirement> list = r.getRequiresAll().getRequirementsList();
          for (int i = 0; i < list.size(); i++) {
            children.add(requirement(list.get(i), path + ".requires_all.requirements[" + i + "]"));
          }
          return new Requirement.All(List.copyOf(children));
        }
        case ALLOW_MISSING_OR_FAILED:
          return new Requirement.AnyProvider(all, allExtractor, true);
        case ALLOW_MISSING:
          return new Requirement.AnyProvider(all, allExtractor, false);
        default:
          return new Requirement.AllowAll();
      }
    }

    private Requirement byProvider(String name, Set<String> audiences, String path) {
      Provider p = providers.get(name);
      if (p == null) {
        throw new ConfigException(path, "Required provider ['" + name + "'] is not configured.");
      }
      Extractor ex = extractors.computeIfAbsent(name, n -> Extractor.of(List.of(p)));
      return new Requirement.ByProvider(p, audiences, ex);
    }
  }
}
