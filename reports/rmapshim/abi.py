"""Numeric values shared with the C side, in one place.

Mirrors rmapcore/rmapcore.h (event types, causes, races, lock classes,
modes) and shim/logfmt.h (record types and their small enums).  Change
these only together with those headers.
"""

MODES = ["locked", "lockless", "lockless-rcu", "broken-nonatomic", "broken-unbiased"]

# enum rmap_event_type; index 0 unused.  JSON keys of "transitions".
EVENT_TYPES = [None, "map_first", "dup", "add", "remove", "unmap_last",
               "anon_mapping_set", "mapping_reset_at_free", "mapping_cleared",
               "referenced", "unmap_result", "race", "violation", "page_freed"]
EV = {name: i for i, name in enumerate(EVENT_TYPES) if name}
# The kinds that are mapcount or mapping transitions (what diff compares).
TRANSITION_KINDS = ["map_first", "dup", "add", "remove", "unmap_last",
                    "anon_mapping_set", "mapping_reset_at_free", "mapping_cleared"]
# Kinds that change page_mapcount, and by how much (for transition rates).
MAPCOUNT_KINDS = ("map_first", "dup", "add", "remove", "unmap_last")

# enum rmap_cause.  JSON keys of "by_cause" (none is kept apart).
CAUSES = ["none", "fault", "fork", "cow", "munmap", "madvise", "mremap",
          "exit", "exec", "reclaim"]

# enum rmap_race -> JSON window name; the spec id comes first.  The two R9
# anon_vma outcomes are one window with two counters (see RACE_WINDOWS).
RACES = [None, "R1_dup_vs_remove", "R3_stale_mapping", "R4_mapping_not_yet_set",
         "R5_unmapped_under_vmscan", "R6_remove_during_unmap", "R7_page_lock_busy",
         "R7_mapping_gone", "R8_mapped_no_mapping", "R9_recheck_unmapped",
         "R9_anon_vma_reused", "R9_anon_vma_freed", "R10_trylock_missed",
         "R9_stale_remap_freed"]
RACE_R9_REUSED = 10
RACE_R9_FREED = 11
R9_WINDOW = "R9_anon_vma_reuse"
RACE_OUTCOMES = ["benign", "caught", "violation"]
RACE_DETAILS = 4   # RMAP_RACE_DETAILS: hits logged with both sides, per race
# enum rmap_race of the window the other side had open -> its operation
WINDOW_OPS = {1: "page_dup_rmap", 3: "page_add_anon_rmap", 4: "shrink_list",
              5: "try_to_unmap_one", 6: "page_referenced", 7: "truncate_inode_pages",
              9: "lock_page_anon_vma", 11: "lock_page_anon_vma"}


def race_window(race):
    """JSON window name of enum rmap_race value @race."""
    if race in (RACE_R9_REUSED, RACE_R9_FREED):
        return R9_WINDOW
    if 0 < race < len(RACES):
        return RACES[race]
    return "race_%d" % race


# enum rmap_lock_class, lock_stat style names.
LOCK_CLASSES = ["PG_maplock", "PG_locked", "&anon_vma->lock",
                "&mapping->i_mmap_lock", "&mm->page_table_lock", "&zone->lru_lock"]
LOCK_SITES = 32
# rmapcore/locks.h enum of acquisition sites (rmap_lock_site_name()).
LOCK_SITE_NAMES = [
    "page_add_anon_rmap", "page_add_file_rmap", "page_dup_rmap", "page_remove_rmap",
    "page_referenced", "page_referenced_anon", "page_referenced_file",
    "page_referenced_one", "try_to_unmap", "try_to_unmap_anon", "try_to_unmap_file",
    "try_to_unmap_one", "try_to_unmap_cluster", "anon_vma_prepare", "anon_vma_link",
    "anon_vma_unlink", "vma_adjust", "handle_mm_fault", "zap_pte_range",
    "copy_page_range", "exit_mmap", "move_page_tables", "sys_remap_file_pages",
    "vma_link", "shrink_list", "refill_inactive_zone", "free_hot_cold_page",
    "lru_cache_add_active", "rmapcore_api", "rmap_walk_ptes", "arena",
    "truncate_inode_pages"]


def lock_site_name(s):
    return LOCK_SITE_NAMES[s] if 0 <= s < len(LOCK_SITE_NAMES) else "site_%d" % s


def lock_class_name(c):
    return LOCK_CLASSES[c] if 0 <= c < len(LOCK_CLASSES) else "class_%d" % c


def mode_name(m):
    return MODES[m] if 0 <= m < len(MODES) else "mode_%d" % m


def cause_name(c):
    return CAUSES[c] if 0 <= c < len(CAUSES) else "cause_%d" % c


def event_name(t):
    return EVENT_TYPES[t] if 0 < t < len(EVENT_TYPES) else "event_%d" % t


# enum rlog_type
RLOG_TYPES = [None, "RUN_START", "PROC_START", "FORK", "EXEC", "EXIT", "MODULES",
              "STACK", "MAP_EVENT", "TRANSITION", "TRANSITION_AGG", "LOCK_WAIT",
              "LOCKSTAT", "ORACLE", "RACE", "VIOLATION", "NOTE", "RUN_END"]
T = {name: i for i, name in enumerate(RLOG_TYPES) if name}

MAP_OPS = [None, "mmap", "munmap", "mremap", "mprotect", "madvise", "brk", "shmat",
           "shmdt", "mlock", "remap_file_pages", "dlopen", "dlclose", "reconcile", "sample"]
PROC_HOW = ["initial", "fork", "exec"]
FORK_KINDS = ["fork", "_Fork", "vfork", "clone", "daemon", "posix_spawn", "unseen"]
EXIT_HOW = ["exit", "_exit", "reaped", "exec"]
EXIT_EXEC = 3           # the old image of a successful exec: not a process exit
NOTE_LEVELS = ["info", "warn", "error"]
EVENTS_OPTION = ["transitions", "pages"]
VERIFY_OPTION = ["off", "sampled", "full"]

RLOG_F_FULL = 0x1


def name_of(table, i):
    return table[i] if 0 <= i < len(table) and table[i] else str(i)
