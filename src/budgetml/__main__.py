from budgetml.cli import main

main()
