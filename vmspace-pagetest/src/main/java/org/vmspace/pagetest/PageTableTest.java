package org.vmspace.pagetest;

import java.lang.annotation.Documented;
import java.lang.annotation.ElementType;
import java.lang.annotation.Retention;
import java.lang.annotation.RetentionPolicy;
import java.lang.annotation.Target;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.extension.ExtendWith;

/**
 * Marks a test class (or method) as a page-table test: registers {@link PageTableExtension}, so
 * test methods can take a {@link PageTableKit}, and tags it {@code kvm} and {@code shadow-paging},
 * so this project's build runs it where KVM is (natively or in the emulated SVM machine) and,
 * where emulated, again under shadow paging.
 */
@Documented
@Retention(RetentionPolicy.RUNTIME)
@Target({ElementType.TYPE, ElementType.METHOD, ElementType.ANNOTATION_TYPE})
@ExtendWith(PageTableExtension.class)
@Tag("kvm")
@Tag("shadow-paging")
public @interface PageTableTest {}
