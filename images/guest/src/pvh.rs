//! The PVH entry: how QEMU (`-kernel` on `microvm` and `pc`), Firecracker,
//! Cloud Hypervisor and vmlab's own Linux loader boot this ELF, found
//! through its `XEN_ELFNOTE_PHYS32_ENTRY` note.
//!
//! PVH enters [`pvh_start32`] in 32-bit protected mode, paging off, flat
//! segments, `ebx` pointing at the `hvm_start_info`, no stack. The
//! trampoline identity-maps the low 4 GiB with 2 MiB pages (tables in
//! `.bss`, which the loader zeroes), turns on PAE, long mode and paging,
//! loads a 64-bit GDT, sets a stack and calls [`pvh_main`] with the
//! start-info address; from there [`crate::stock`] runs the workload.
use vmlab_workload::bootinfo::foreign;

use crate::stock;

core::arch::global_asm!(
    r#"
    .section .text.pvh32, "ax"
    .code32
    .globl pvh_start32
    .globl pvh_pml4, pvh_pdpt, pvh_pd, pvh_stack_top
pvh_start32:
    cli
    cld
    movl %ebx, %esi
    movl $pvh_pml4, %edi
    xorl %eax, %eax
    movl $2048, %ecx
    rep stosl
    movl $pvh_pdpt, %eax
    orl $3, %eax
    movl %eax, pvh_pml4
    movl $pvh_pd, %eax
    orl $3, %eax
    movl $pvh_pdpt, %edi
    movl $4, %ecx
1:
    movl %eax, (%edi)
    movl $0, 4(%edi)
    addl $4096, %eax
    addl $8, %edi
    loop 1b
    movl $pvh_pd, %edi
    xorl %ecx, %ecx
2:
    movl %ecx, %eax
    shll $21, %eax
    orl $0x83, %eax
    movl %eax, (%edi,%ecx,8)
    movl $0, 4(%edi,%ecx,8)
    incl %ecx
    cmpl $2048, %ecx
    jb 2b
    movl %cr4, %eax
    orl $0x20, %eax
    movl %eax, %cr4
    movl $pvh_pml4, %eax
    movl %eax, %cr3
    movl $0xc0000080, %ecx
    rdmsr
    orl $0x100, %eax
    wrmsr
    movl %cr0, %eax
    orl $0x80000001, %eax
    movl %eax, %cr0
    lgdt pvh_gdt_ptr
    ljmp $0x08, $pvh_start64

    .code64
pvh_start64:
    movw $0x10, %ax
    movw %ax, %ds
    movw %ax, %es
    movw %ax, %ss
    movw %ax, %fs
    movw %ax, %gs
    movq $pvh_stack_top, %rsp
    movl %esi, %edi
    call pvh_main
3:
    hlt
    jmp 3b

    .section .rodata.pvh, "a"
    .balign 8
pvh_gdt:
    .quad 0
    .quad 0x00af9a000000ffff
    .quad 0x00cf92000000ffff
pvh_gdt_ptr:
    .word 23
    .long pvh_gdt

    .section .note.Xen, "a", @note
    .balign 4
    .long 4
    .long 8
    .long 18
    .asciz "Xen"
    .balign 4
    .quad pvh_start32

    .section .bss.pvh, "aw", @nobits
    .balign 4096
pvh_pml4:
    .skip 4096
pvh_pdpt:
    .skip 4096
pvh_pd:
    .skip 16384
pvh_stack:
    .skip 65536
pvh_stack_top:
"#,
    options(att_syntax)
);

/// The 64-bit side of the PVH entry; `start_info` is the address `ebx` held.
#[no_mangle]
extern "C" fn pvh_main(start_info: u64) -> ! {
    let info = foreign::from_pvh(
        &stock::Identity,
        start_info,
        stock::image_end(),
        stock::tsc_khz(),
    );
    stock::start(info, "PVH start info")
}
