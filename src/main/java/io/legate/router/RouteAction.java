package io.legate.router;

/** What a matched route does: forward upstream, redirect, or answer directly. */
public sealed interface RouteAction permits ForwardAction, RedirectAction, DirectResponseAction {}
