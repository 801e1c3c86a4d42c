package io.legate.http.filters.fault;

import io.envoyproxy.envoy.type.v3.FractionalPercent;
import io.legate.config.ConfigException;

/**
 * Envoy's {@code FractionalPercent}: enabled for a random value when {@code random % denominator <
 * numerator} (Envoy's runtime {@code featureEnabled} with its default value; Legate has no runtime
 * overrides). Immutable.
 */
record Percentage(long numerator, long denominator) {
  /** Returns the percentage of a FractionalPercent proto (an absent one is 0/100). */
  static Percentage of(FractionalPercent p, String path) {
    long den =
        switch (p.getDenominator()) {
          case HUNDRED -> 100;
          case TEN_THOUSAND -> 10_000;
          case MILLION -> 1_000_000;
          default -> throw new ConfigException(
              path + ".denominator", "unknown value " + p.getDenominatorValue());
        };
    return new Percentage(Integer.toUnsignedLong(p.getNumerator()), den);
  }

  /** Returns whether a request drawing {@code random} is selected. */
  boolean enabled(long random) {
    return Long.remainderUnsigned(random, denominator) < numerator;
  }

  /** Returns this percentage with its numerator lowered to {@code headerNumerator} if smaller. */
  Percentage capped(long headerNumerator) {
    return headerNumerator >= numerator ? this : new Percentage(headerNumerator, denominator);
  }
}
