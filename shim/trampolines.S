/* SPDX-License-Identifier: MIT */
/*
 * trampolines.S - hooks that must not leave a C frame of ours on the stack.
 *
 * vfork: the child returns through the caller's frame while the parent is
 * suspended, so a C wrapper's frame would be clobbered before the parent
 * resumes in it.  dlopen: glibc picks the caller's link map (RPATH,
 * $ORIGIN) from its return address.  exit, _exit, _Exit: their stack is
 * taken through the same return addresses in every process, which a
 * fork's parent has already unwound (shim_exit_note).  Each calls a C note that returns the
 * real function, then tail-jumps to it with the caller's return address
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

	/* One call instruction for all three: one return address to cache. */
	.globl	_Exit
	.type	_Exit, @function
	.globl	_exit
	.type	_exit, @function
	.globl	exit
	.type	exit, @function
	.globl	shim_exit_trampoline
	.hidden	shim_exit_trampoline
	.type	shim_exit_trampoline, @function
	.cfi_startproc
_Exit:
	mov	$2, %esi
	jmp	1f
_exit:
	mov	$1, %esi
	jmp	1f
exit:
shim_exit_trampoline:
	xor	%esi, %esi
1:	push	%rdi			/* status; realigns to 16 for the call */
	.cfi_adjust_cfa_offset 8
	call	shim_exit_note@PLT
	pop	%rdi
	.cfi_adjust_cfa_offset -8
	test	%rax, %rax
	jz	2f			/* a warm-up (shim_exit_warm): back to it */
	jmp	*%rax
2:	ret
	.cfi_endproc
	.size	_Exit, .-_Exit
	.size	_exit, .-_exit
	.size	exit, .-exit

	.section .note.GNU-stack, "", @progbits
