print("fabric")
