from deepmouse.cli import main

main()
