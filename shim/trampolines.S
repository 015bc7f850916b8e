/* SPDX-License-Identifier: MIT */
/*
 * trampolines.S - hooks that must not leave a C frame of ours on the stack.
 *
 * vfork: the child returns through the caller's frame while the parent is
 * suspended, so a C wrapper's frame would be clobbered before the parent
 * resumes in it.  dlopen: glibc picks the caller's link map (RPATH,
 * $ORIGIN) from its return address.  Both call a C note that returns the
 * real function, then tail-jump to it with the caller's return address
 * still on top of the stack.
 */
	.text

	.globl	vfork
	.type	vfork, @function
vfork:
	.cfi_startproc
	sub	$8, %rsp		/* realign to 16 for the call */
	.cfi_adjust_cfa_offset 8
	call	shim_vfork_note@PLT
	add	$8, %rsp
	.cfi_adjust_cfa_offset -8
	jmp	*%rax
	.cfi_endproc
	.size	vfork, .-vfork

	.globl	dlopen
	.type	dlopen, @function
dlopen:
	.cfi_startproc
	push	%rdi			/* file */
	.cfi_adjust_cfa_offset 8
	push	%rsi			/* mode */
	.cfi_adjust_cfa_offset 8
	sub	$8, %rsp
	.cfi_adjust_cfa_offset 8
	call	shim_dlopen_note@PLT
	add	$8, %rsp
	.cfi_adjust_cfa_offset -8
	pop	%rsi
	.cfi_adjust_cfa_offset -8
	pop	%rdi
	.cfi_adjust_cfa_offset -8
	jmp	*%rax
	.cfi_endproc
	.size	dlopen, .-dlopen

	.section .note.GNU-stack, "", @progbits
