// The program each engine module is linked into, whole and with only its dependencies
// (skvq_modules.cmake): linking it fails when the module calls into a module above it.
int main() { return 0; }
