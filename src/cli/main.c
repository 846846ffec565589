// Placeholder entry point; replaced by the real CLI.
#include <stdio.h>

#include "dptrain/dptrain.h"

int main(void)
{
    printf("dptrain %s\n", dpt_version());
    return 0;
}
