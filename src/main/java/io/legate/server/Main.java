package io.legate.server; public class Main { public static void main(String[] a){} }
