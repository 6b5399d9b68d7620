/** The augmented red-black tree and the reference-counted id registry. */
module org.vmspace.rbtree {
  exports org.vmspace.rbtree;
  exports org.vmspace.registry;
}
