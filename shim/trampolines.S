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
	mov	8(%rsp), %rdx		/* the call site: our return address */
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

	/*
	 * void shim_call_from(void *ra, void *stack, void (*fn)(void)):
	 * @fn runs on @stack as if called from @ra, for an unwinder to learn
	 * @ra's frame (shim_stacks_warm).  The frame below @fn says so
	 * to DWARF: its return address is @ra, pushed on @stack, and %rbp
	 * points into @stack too, so that whatever rule @ra's frame has, the
	 * next return address read is one of @stack's zeroes: the end.
	 */
	.globl	shim_call_from
	.hidden	shim_call_from
	.type	shim_call_from, @function
shim_call_from:
	.cfi_startproc
	push	%rbp
	.cfi_adjust_cfa_offset 8
	.cfi_rel_offset %rbp, 0
	push	%rbx
	.cfi_adjust_cfa_offset 8
	.cfi_rel_offset %rbx, 0
	mov	%rsp, %rbx
	.cfi_def_cfa_register %rbx
	.cfi_remember_state
	and	$-16, %rsi
	lea	256(%rsi), %rbp
	lea	-8(%rsi), %rsp		/* 16-aligned after the push */
	push	%rdi
	.cfi_def_cfa %rsp, 8		/* called from @ra */
	.cfi_same_value %rbp
	.cfi_same_value %rbx
	call	*%rdx
	mov	%rbx, %rsp
	.cfi_restore_state
	.cfi_def_cfa_register %rsp
	pop	%rbx
	.cfi_adjust_cfa_offset -8
	.cfi_restore %rbx
	pop	%rbp
	.cfi_adjust_cfa_offset -8
	.cfi_restore %rbp
	ret
	.cfi_endproc
	.size	shim_call_from, .-shim_call_from

	.section .note.GNU-stack, "", @progbits
