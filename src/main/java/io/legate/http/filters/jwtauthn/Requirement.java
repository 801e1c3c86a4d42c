package io.legate.http.filters.jwtauthn;

import java.util.List;
import java.util.Set;

/**
 * A {@code JwtRequirement}, parsed into a tree (Envoy's verifiers): a provider, a provider with its
 * own audiences, any-of, all-of, allow-missing, allow-missing-or-failed, or allow-all. Immutable.
 */
sealed interface Requirement {
  /** Collects the key sources this requirement may need, to fetch them before verifying. */
  void sources(Set<JwksSource> out);

  /** Tokens from one provider. {@code audiences} overrides the provider's when not null. */
  record ByProvider(Provider provider, Set<String> audiences, Extractor extractor) implements Requirement {
    @Override
    public void sources(Set<JwksSource> out) {
      out.add(provider.jwks());
    }
  }

  /**
   * Any child satisfied. {@code allowMissing}/{@code allowMissingOrFailed} record the allow
   * children, which Envoy folds into the final status instead of verifying them on their own.
   */
  record Any(List<Requirement> children, boolean allowMissing, boolean allowMissingOrFailed)
      implements Requirement {
    @Override
    public void sources(Set<JwksSource> out) {
      children.forEach(c -> c.sources(out));
    }
  }

  /** All children satisfied. */
  record All(List<Requirement> children) implements Requirement {
    @Override
    public void sources(Set<JwksSource> out) {
      children.forEach(c -> c.sources(out));
    }
  }

  /**
   * A token from any provider, verified; with {@code allowFailed} the outcome is always success,
   * else a missing token is.
   */
  record AnyProvider(List<Provider> providers, Extractor extractor, boolean allowFailed)
      implements Requirement {
    @Override
    public void sources(Set<JwksSource> out) {
      providers.forEach(p -> out.add(p.jwks()));
    }
  }

  /** No requirement: always satisfied. */
  record AllowAll() implements Requirement {
    @Override
    public void sources(Set<JwksSource> out) {}
  }
}
