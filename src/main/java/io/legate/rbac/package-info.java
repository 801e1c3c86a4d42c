/**
 * Envoy's role based access control engine ({@code envoy.config.rbac.v3}), shared by the HTTP and
 * network RBAC filters: policies of permissions and principals compiled once into immutable matchers
 * and evaluated against an {@link io.legate.rbac.RbacInput} without allocating.
 */
package io.legate.rbac;
