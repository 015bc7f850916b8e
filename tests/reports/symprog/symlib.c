/* The dlopen'ed half of the symbolization fixture. */
__attribute__((noinline)) void lib_entry(void (*rec)(const char *))
{
	rec("dlopen"); /* LINE:dlopen */
	__asm__ volatile("");
}
